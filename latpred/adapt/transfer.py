"""Adapting a pretrained predictor to one target device from m measured architectures (§5)."""

import dataclasses
from typing import Optional

import jax
import numpy as np

from latpred import metrics
from latpred.train import loop
from latpred.train import mesh as mesh_lib

ROW_INITS = ("copy", "random")


def most_correlated_hw(sample_latency_m, train_latency_HxM, train_hw_ids) -> int:
  """Training device whose latencies on the m samples have the highest Spearman with the
  target's (ties: the first). Constant rows count as correlation -1."""
  best, best_rho = int(train_hw_ids[0]), -np.inf
  for hw_id, row in zip(train_hw_ids, train_latency_HxM):
    rho = metrics.spearman(sample_latency_m, row) if np.ptp(row) > 0 else -1.0
    rho = -1.0 if np.isnan(rho) else rho
    if rho > best_rho:
      best, best_rho = int(hw_id), rho
  return best


def copy_hw_row(params, src: int, dst: int):
  """Parameters with hardware-table row `dst` replaced by row `src` (a new pytree)."""
  table = params["params"]["hw_table"]
  new = jax.tree_util.tree_map(lambda x: x, params)
  new["params"]["hw_table"] = table.at[dst].set(table[src])
  return new


def fit_ms_scale(scores, latency_ms) -> tuple[float, float]:
  """(a, b) with latency_ms ~= a * score + b by least squares on measured samples; constant
  scores give (0, mean latency)."""
  if np.ptp(scores) == 0:
    return 0.0, float(np.mean(latency_ms))
  a, b = np.polyfit(scores, latency_ms, 1)
  return float(a), float(b)


@dataclasses.dataclass
class Adapted:
  params: dict
  source_hw: int  # the training device whose row was copied
  scale_ms: tuple  # (a, b): latency_ms ~= a * score + b, fitted on the samples
  hw_row: int  # the hardware-table row that now holds the target device


def adapt(model, pretrained, graph_set, supp_AxD, target_hw: Optional[int], samples,
          sample_latency_ms, train_hw_ids, train_latency_HxA, *, epochs, batch_size, lr,
          weight_decay, final_lr, freeze=(), seed=0, row_init: str = "copy") -> Adapted:
  """Copies the best-matching training row into the target's row, then fine-tunes (AdamW,
  cosine) on the samples, always starting from `pretrained`.

  `row_init='random'` (the design study's ablation) keeps the target's own row as initialised
  before pretraining (never trained) instead of copying; `source_hw` still names the most
  correlated training device.

  `target_hw=None` is a device outside the table (a user's new device): the copied training row
  itself is fine-tuned in place, so the adapted parameters no longer predict that training
  device (the pretrained ones still do).
  """
  fine_tune = FineTune(epochs, batch_size, lr, weight_decay, final_lr, tuple(freeze), row_init)
  return adapt_runs(model, [(pretrained, samples, sample_latency_ms, seed)], graph_set,
                    supp_AxD, target_hw, train_hw_ids, train_latency_HxA, fine_tune)[0]


def adapt_runs(model, runs, graph_set, supp_AxD, target_hw: Optional[int], train_hw_ids,
               train_latency_HxA, fine_tune: "FineTune",
               placement: mesh_lib.Runs = mesh_lib.Runs()) -> list:
  """`adapt` for each run (pretrained params, samples, their latency in ms, seed), [Adapted].

  With a mesh (`placement`, from config.parallel) or `fine_tune.vmapped`, runs with the same
  number of samples are fine-tuned together as one vmapped program (`loop.fit_runs`), sharded
  over the mesh's devices; on one device, by default one after the other, which measured faster
  on the 2-core CPU (docs/vmap.md), dispatched from `placement.threads` host threads, every
  epoch padded to the largest run's step count so that runs with the same batch (a target's full
  fit and its cross-fitting folds) compile once.
  """
  if fine_tune.row_init not in ROW_INITS:
    raise ValueError(f"row_init={fine_tune.row_init!r}; valid: {', '.join(ROW_INITS)}")
  if target_hw is None and fine_tune.row_init != "copy":
    raise ValueError("a device outside the table has no row of its own: row_init must be 'copy'")
  starts = []
  for pretrained, samples, latency_ms, _ in runs:
    samples = np.asarray(samples)
    src = most_correlated_hw(latency_ms, train_latency_HxA[:, samples], train_hw_ids)
    row = src if target_hw is None else target_hw
    params = copy_hw_row(pretrained, src, row) if fine_tune.row_init == "copy" else pretrained
    lat = np.zeros((1, graph_set.num_archs), np.float32)
    lat[0, samples] = latency_ms
    starts.append((params, src, row, lat, samples))
  trained = [s[0] for s in starts]
  opt = dict(epochs=fine_tune.epochs, batch_size=fine_tune.batch_size, lr=fine_tune.lr,
             weight_decay=fine_tune.weight_decay, final_lr=fine_tune.final_lr,
             freeze=fine_tune.freeze)
  if fine_tune.epochs and not (fine_tune.vmapped or placement.vmapped):
    steps = max(loop.epoch_steps(len(s[4]), fine_tune.batch_size) for s in starts)

    def fit(start_run):
      (params, _, row, lat, samples), run = start_run
      return loop.fit(model, params, graph_set, supp_AxD, [row], lat, samples, seed=run[3],
                      steps_per_epoch=steps, **opt)[0]

    trained = placement.map(fit, list(zip(starts, runs)))
  elif fine_tune.epochs:
    for n in sorted({len(s[4]) for s in starts}):
      group = [i for i, s in enumerate(starts) if len(s[4]) == n]
      out = loop.fit_runs(model, [starts[i][0] for i in group], graph_set, supp_AxD,
                          [[starts[i][2]] for i in group], [starts[i][3] for i in group],
                          [starts[i][4] for i in group], seeds_K=[runs[i][3] for i in group],
                          runs=placement, **opt)
      for i, params in zip(group, out):
        trained[i] = params
  adapted = []
  for params, (_, src, row, _, samples), (_, _, latency_ms, _) in zip(trained, starts, runs):
    scores = loop.predict(model, params, graph_set, supp_AxD, row, samples)
    adapted.append(Adapted(params, src, fit_ms_scale(scores, latency_ms), row))
  return adapted


@dataclasses.dataclass(frozen=True)
class FineTune:
  """Fine-tuning settings (config.transfer of configs/nasflat.py)."""

  epochs: int
  batch_size: int
  lr: float
  weight_decay: float
  final_lr: float
  freeze: tuple = ()
  row_init: str = "copy"
  vmapped: bool = False  # fine-tune equal-sized runs as one vmapped program (loop.fit_runs)

  @classmethod
  def from_config(cls, transfer_config) -> "FineTune":
    """From `config.transfer` (configs/nasflat.py)."""
    t = transfer_config
    return cls(t.epochs, t.batch, t.lr, t.weight_decay, t.final_lr,
               tuple(g for g in t.freeze.split(",") if g), t.row_init, t.vmap_fine_tune)
