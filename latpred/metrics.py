"""Rank correlations, millisecond errors and the evaluation sets of NASFLAT §7 (host-side
numpy/scipy).

Millisecond metrics, as deployed latency predictors (nn-Meter, LitePred) are judged: the absolute
percentage error |predicted - measured| / measured of every evaluated architecture, summarised as
its mean (`mape_pct`) and median (`median_ape_pct`), and the share of architectures predicted
within ±5 % / ±10 % (`within_5pct`, `within_10pct`, in percent).
"""

import numpy as np
import scipy.stats

EVAL_SETS = ("all", "exclude_samples", "paper_first128")
MS_METRICS = ("mape_pct", "median_ape_pct", "within_5pct", "within_10pct")


def spearman(a, b) -> float:
  return float(scipy.stats.spearmanr(a, b).statistic)


def kendall(a, b) -> float:
  return float(scipy.stats.kendalltau(a, b).statistic)


def ms_errors(pred_ms, true_ms) -> dict:
  """`MS_METRICS` of predicted against measured latency (ms; measured must be positive)."""
  pred, true = np.asarray(pred_ms, np.float64), np.asarray(true_ms, np.float64)
  if pred.shape != true.shape or pred.ndim != 1 or not len(true):
    raise ValueError(f"need two equal-length 1-D arrays, got {pred.shape} and {true.shape}")
  if np.any(true <= 0):
    raise ValueError("measured latencies must be positive")
  ape = 100.0 * np.abs(pred - true) / true
  return {"mape_pct": float(ape.mean()), "median_ape_pct": float(np.median(ape)),
          "within_5pct": float(100.0 * np.mean(ape <= 5.0)),
          "within_10pct": float(100.0 * np.mean(ape <= 10.0))}


def evaluate(pred_ms, true_ms, disconnected=None, rank_scores=None) -> dict:
  """Spearman, Kendall and `ms_errors` over the evaluated architectures.

  The correlations rank `pred_ms`, or `rank_scores` where given: a rank-only method's own
  ranking (e.g. FLOPs), whose milliseconds come from a line fitted on a few samples; a negative
  fitted slope would otherwise reverse the ranking the method stands for.

  `disconnected` (bool, same length) marks architectures whose output is disconnected from the
  input (NB201); they stay in every metric above and are also summarised on their own under
  'disconnected' ({'count', and their `ms_errors`}) when there are any. A constant prediction
  (e.g. a non-negative fit that gives every column weight 0 on 5 samples) ranks nothing: its
  Spearman and Kendall, undefined, are scored 0 and the result says 'constant_prediction'.
  """
  pred, true = np.asarray(pred_ms, np.float64), np.asarray(true_ms, np.float64)
  rank = pred if rank_scores is None else np.asarray(rank_scores, np.float64)
  if rank.shape != true.shape:
    raise ValueError(f"rank_scores {rank.shape} do not match {true.shape}")
  if np.ptp(rank) == 0:  # ranks nothing: correlation undefined (scipy: NaN); scored as 0
    out = {"spearman": 0.0, "kendall": 0.0, "constant_prediction": True}
  else:
    out = {"spearman": spearman(rank, true), "kendall": kendall(rank, true)}
  out.update(ms_errors(pred, true))
  if disconnected is not None and np.any(disconnected):
    mask = np.asarray(disconnected, bool)
    out["disconnected"] = {"count": int(mask.sum()), **ms_errors(pred[mask], true[mask])}
  return out


def eval_indices(eval_set: str, num_archs: int, sampled: np.ndarray) -> np.ndarray:
  """Architectures scored: 'all' (default), 'exclude_samples' (all but the m measured ones),
  or 'paper_first128' (architectures 0-127: the reference code's protocol, through a bug)."""
  if eval_set == "all":
    return np.arange(num_archs)
  if eval_set == "exclude_samples":
    return np.setdiff1d(np.arange(num_archs), sampled)
  if eval_set == "paper_first128":
    return np.arange(min(128, num_archs))
  raise ValueError(f"unknown eval_set {eval_set!r}; valid: {', '.join(EVAL_SETS)}")
