"""Adapting a pretrained predictor to one target device from m measured architectures (§5)."""

import dataclasses

import jax
import numpy as np

from latpred.evaluation import metrics
from latpred.train import loop


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


def adapt(model, pretrained, graph_set, supp_AxD, target_hw: int, samples, sample_latency_ms,
          train_hw_ids, train_latency_HxA, *, epochs, batch_size, lr, weight_decay, final_lr,
          freeze=(), seed=0) -> Adapted:
  """Copies the best-matching training row into the target's row, then fine-tunes (AdamW,
  cosine) on the samples, always starting from `pretrained`."""
  samples = np.asarray(samples)
  src = most_correlated_hw(sample_latency_ms, train_latency_HxA[:, samples], train_hw_ids)
  params = copy_hw_row(pretrained, src, target_hw)
  if epochs:
    lat = np.zeros((1, graph_set.num_archs), np.float32)
    lat[0, samples] = sample_latency_ms
    params, _ = loop.fit(model, params, graph_set, supp_AxD, [target_hw], lat, samples,
                         epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         final_lr=final_lr, seed=seed, freeze=tuple(freeze))
  scores = loop.predict(model, params, graph_set, supp_AxD, target_hw, samples)
  return Adapted(params, src, fit_ms_scale(scores, sample_latency_ms))
