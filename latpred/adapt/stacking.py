"""Stacked transfer (beyond the reference): the target's latency as a non-negative mix.

After fine-tuning, the target's latency in ms is modelled as

  latency_ms ~= w_0 * gnn_ms + sum_d w_d * latency_ms[d] + w_f * MFLOPs + w_p * Mparams
                + w_o * compute_ops [+ w_k * kernels + w_a * activations] + c,   all w >= 0,

fitted on the m measured samples (non-negative least squares on columns scaled to unit spread
over the samples; the intercept c is free). `d` runs over the training devices, whose measured
latencies on every architecture of the space are the pretraining data; `gnn_ms` is the adapted
GNN's prediction in ms. Latency is close to a sum of per-layer costs, so a non-negative mix of
other devices' latencies and of FLOPs / params / layer counts is itself a plausible latency model;
it carries what the GNN's few-shot fine-tune cannot learn from m samples (docs/tuning.md).
`loss` (config.transfer.stack_loss) is what the fit minimises: 'absolute' the squared error in
ms, 'relative' the squared relative error (rows weighted 1 / latency), which spends the weights on
the fast architectures as much as on the slow ones (the share within +-10 % counts both alike).
The optional physics columns (`physics`: config.transfer.stack_physics) are the networks' kernel
launches and activation elements (`latpred.spaces.physics`), directions that a mix of the
training devices lacks when the target is of another kind (a GPU at batch 1 among phone and CPU
training devices).

The GNN was fine-tuned on the same samples, so its in-sample fit is optimistic and would take all
the weight. Its column is therefore cross-fitted: K fine-tunes, each on the samples outside one
fold, predict that fold (`out_of_fold`); the fitted weights are then applied to the GNN fine-tuned
on all m samples.
"""

import dataclasses
from typing import Callable

import numpy as np
import scipy.optimize

from latpred.spaces import physics as physics_lib
from latpred.train import synthetic

NON_COMPUTE_TYPES = ("input", "output", "none", "skip_connect", "skip")
LOSSES = ("absolute", "relative")


def compute_ops(space) -> np.ndarray:
  """Number of nodes per architecture whose op computes (not input/output/none/skip), [A]."""
  compute = np.array([t not in NON_COMPUTE_TYPES for t in space.node_types])
  return compute[space.graph_set.node_types_AxN].sum(1).astype(np.float64)


def physics_features(spec: str) -> tuple:
  """The physics columns a `config.transfer.stack_physics` string names: '' none, else names of
  `latpred.spaces.physics.FEATURES` joined by '+'."""
  names = tuple(n for n in spec.split("+") if n) if spec else ()
  bad = [n for n in names if n not in physics_lib.FEATURES] + (
      ["(repeated)"] if len(set(names)) != len(names) else [])
  if bad:
    raise ValueError(f"bad stack_physics {spec!r} ({', '.join(bad)}): '' or names of "
                     f"{', '.join(physics_lib.FEATURES)} joined by '+'")
  return names


def config_physics(transfer_config) -> tuple:
  """`physics_features` of a config's transfer section (none for configs, e.g. checkpoints',
  written before the option)."""
  return physics_features(transfer_config.get("stack_physics", ""))


def basis(space, train_latency_HxA, physics=()) -> np.ndarray:
  """The GNN-free columns for every architecture, float64 [A, H + 3 (+ physics)]: the training
  devices' measured latency (ms), MFLOPs, Mparams, compute-op count, then the `physics` columns
  (names of `latpred.spaces.physics.FEATURES`)."""
  cols = [np.asarray(train_latency_HxA, np.float64).T, space.mflops_A, space.mparams_A,
          compute_ops(space)]
  if physics:
    table = physics_lib.features(space.name, space.op_ids_AxS)
    cols.append(table[:, [physics_lib.FEATURES.index(n) for n in physics]])
  return np.column_stack(cols)


def synthetic_devices(space, train_latency_HxA, num_hw: int, num: int, seed):
  """`num` synthetic devices (`latpred.train.synthetic`): their hardware-table rows [num] (after
  the table's `num_hw` devices) and latencies [num, A], mixes of every column of `basis` with
  all physics columns."""
  if not num:  # (the default: no columns to build)
    return num_hw + np.arange(0), np.zeros((0, space.num_archs), np.float32)
  columns = basis(space, train_latency_HxA, physics_lib.FEATURES)
  return num_hw + np.arange(num), synthetic.mix_latency(columns.T, num, seed)


def basis_columns(train_hw, physics=()) -> list:
  """Names of `basis`'s columns."""
  return [*train_hw, "mflops", "mparams", "compute_ops", *physics]


def columns(train_hw, physics=()) -> list:
  """Names of the stack's columns: the GNN, then `basis`'s."""
  return ["gnn_ms", *basis_columns(train_hw, physics)]


def fold_ids(m: int, num_folds: int, seed: int) -> list[np.ndarray]:
  """A seeded partition of range(m) into min(num_folds, m) folds of near-equal size."""
  if num_folds < 2:
    raise ValueError(f"cross-fitting needs at least 2 folds, got {num_folds}")
  order = np.random.default_rng(seed).permutation(m)
  return [np.sort(f) for f in np.array_split(order, min(num_folds, m))]


def out_of_fold(fit_predict: Callable[[np.ndarray], np.ndarray], m: int, num_folds: int,
                seed: int) -> np.ndarray:
  """Cross-fitted predictions of the m samples, [m].

  Args:
    fit_predict: given the positions (into the m samples) to train on, returns predictions
      (ms) for all m samples from a model trained on those positions only.
  """
  out = np.empty(m)
  for held in fold_ids(m, num_folds, seed):
    train = np.setdiff1d(np.arange(m), held)
    out[held] = np.asarray(fit_predict(train), np.float64)[held]
  return out


@dataclasses.dataclass(frozen=True)
class Stack:
  """latency_ms ~= (features / scale) @ weights + intercept."""

  weights: np.ndarray  # [K], >= 0
  scale: np.ndarray  # [K], the columns' spread over the fitted samples
  intercept: float
  loss: str = "absolute"  # what the fit minimised (LOSSES)

  def predict(self, features_NxK) -> np.ndarray:
    return np.asarray(features_NxK, np.float64) / self.scale @ self.weights + self.intercept

  def named_weights(self, names) -> dict:
    """Column name -> weight, rounded for reports (`names`: `columns(train_hw)`, or
    `basis_columns(train_hw)` for a stack without the GNN column)."""
    if len(names) != len(self.weights):
      raise ValueError(f"{len(names)} names for {len(self.weights)} weights")
    return dict(zip(names, np.round(self.weights, 4).tolist()))


def fit(features_MxK, latency_ms, loss: str = "absolute") -> Stack:
  """Non-negative least squares with a free intercept on columns scaled to unit spread,
  minimising `loss` (LOSSES; 'relative' needs positive latencies).

  Columns that are constant over the samples get weight 0.
  """
  x = np.asarray(features_MxK, np.float64)
  y = np.asarray(latency_ms, np.float64)
  if x.ndim != 2 or len(x) != len(y) or len(y) < 2:
    raise ValueError(f"need [m, K] features and m >= 2 latencies, got {x.shape} and {y.shape}")
  if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
    raise ValueError("stacking features and latencies must be finite")
  if loss not in LOSSES:
    raise ValueError(f"unknown stack loss {loss!r}; valid: {', '.join(LOSSES)}")
  if loss == "relative" and np.any(y <= 0):
    raise ValueError("the relative stack loss needs positive latencies")
  scale = x.std(0)
  live = scale > 0
  scale = np.where(live, scale, 1.0)
  design = np.column_stack([x[:, live] / scale[live], np.ones(len(y))])
  row = 1.0 / y if loss == "relative" else np.ones(len(y))
  lower = np.r_[np.zeros(live.sum()), -np.inf]
  sol = scipy.optimize.lsq_linear(design * row[:, None], y * row, bounds=(lower, np.inf),
                                  method="bvls").x
  weights = np.zeros(x.shape[1])
  weights[live] = sol[:-1]
  return Stack(weights, scale, float(sol[-1]), loss)


def loo_predictions(features_MxK, latency_ms, loss: str = "absolute") -> np.ndarray:
  """Leave-one-out predictions (ms) of `fit` for each of the m samples, [m]."""
  x = np.asarray(features_MxK, np.float64)
  y = np.asarray(latency_ms, np.float64)
  out = np.empty(len(y))
  for i in range(len(y)):
    keep = np.arange(len(y)) != i
    out[i] = fit(x[keep], y[keep], loss).predict(x[i:i + 1])[0]
  return out
