"""An ensemble of pretrained predictors adapted to one target device, with the optional stack."""

import dataclasses
from typing import Optional, Sequence

import numpy as np

from latpred.adapt import stacking
from latpred.adapt.transfer import FineTune, adapt_runs
from latpred.train import loop
from latpred.train.mesh import Runs


def stacks(transfer_config, num_samples: int) -> bool:
  """Whether an adaptation on `num_samples` measurements fits the stack (it needs
  transfer.stack and at least max(3, transfer.stack_folds) of them)."""
  return bool(transfer_config.stack) and num_samples >= max(3, transfer_config.stack_folds)


@dataclasses.dataclass
class AdaptedEnsemble:
  """Every pretrained ensemble member adapted to one target device, plus the optional stack.

  Each member predicts ms through its own linear scale fitted on the samples; the ensemble
  averages those ms, so a prediction does not depend on which other architectures are queried.
  """

  members: list  # [Adapted]
  stack: Optional[stacking.Stack] = None
  samples: Optional[np.ndarray] = None  # with a stack fitted here: the measured architectures,
  sample_ms: Optional[np.ndarray] = None  # their latencies
  oof_ms: Optional[np.ndarray] = None  # and the cross-fitted GNN predictions of them

  def gnn_ms(self, model, graph_set, supp_AxD, archs) -> np.ndarray:
    """The ensemble's own prediction (ms) for architecture indices `archs`."""
    out = [a * loop.predict(model, m.params, graph_set, supp_AxD, m.hw_row, archs) + b
           for m in self.members for a, b in [m.scale_ms]]
    return np.mean(out, axis=0)

  def loo_ms(self, stack_basis_AxK) -> np.ndarray:
    """Leave-one-out predictions (ms) of the samples: the stack refitted without each, on the
    cross-fitted GNN column. Empty without a stack fitted here (e.g. one loaded back)."""
    if self.oof_ms is None:
      return np.empty(0)
    features = np.column_stack([self.oof_ms, stack_basis_AxK[self.samples]])
    return stacking.loo_predictions(features, self.sample_ms, self.stack.loss)

  def predict_ms(self, model, graph_set, supp_AxD, archs, stack_basis_AxK=None) -> np.ndarray:
    """Predicted latency (ms); with a stack, `stack_basis_AxK` (`stacking.basis`) is needed."""
    ms = self.gnn_ms(model, graph_set, supp_AxD, archs)
    if self.stack is None:
      return ms
    if stack_basis_AxK is None:
      raise ValueError("this adapted predictor is stacked: pass stack_basis_AxK")
    return self.stack.predict(np.column_stack([ms, stack_basis_AxK[np.asarray(archs)]]))


def adapt_ensemble(model, members: Sequence, graph_set, supp_AxD, target_hw: Optional[int],
                   samples, sample_latency_ms, train_hw_ids, train_latency_HxA,
                   fine_tune: FineTune, *, seed: int, stack_basis_AxK=None,
                   stack_folds: int = 5, stack_loss: str = "absolute",
                   placement: Runs = Runs()) -> AdaptedEnsemble:
  """Adapts every pretrained member (`adapt`, member k with seed + 7919 k); with
  `stack_basis_AxK`, also fits the stack (`latpred.stacking`) on the samples, the GNN column
  cross-fitted over `stack_folds` folds (each fold re-adapts every member without it) and fitted
  with `stack_loss` (`stacking.LOSSES`). The
  members x folds fine-tunes run as `placement` says (`transfer.adapt_runs`)."""
  samples = np.asarray(samples)
  y = np.asarray(sample_latency_ms, np.float64)
  m, k = len(samples), len(members)
  subsets = [np.arange(m)]  # the full fit, then (with a stack) one per cross-fitting fold
  if stack_basis_AxK is not None:
    subsets += [np.setdiff1d(np.arange(m), held)
                for held in stacking.fold_ids(m, stack_folds, seed)]
  runs = [(params, samples[pos], y[pos], seed + 7919 * j)
          for pos in subsets for j, params in enumerate(members)]
  adapted = adapt_runs(model, runs, graph_set, supp_AxD, target_hw, train_hw_ids,
                       train_latency_HxA, fine_tune, placement)
  fits = {tuple(pos): AdaptedEnsemble(adapted[i * k:(i + 1) * k])
          for i, pos in enumerate(subsets)}
  full = fits[tuple(subsets[0])]
  if stack_basis_AxK is not None:
    oof = stacking.out_of_fold(
        lambda pos: fits[tuple(pos)].gnn_ms(model, graph_set, supp_AxD, samples), m,
        stack_folds, seed)
    full.stack = stacking.fit(np.column_stack([oof, stack_basis_AxK[samples]]), y, stack_loss)
    full.samples, full.sample_ms, full.oof_ms = samples, y, oof
  return full
