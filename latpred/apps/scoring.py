"""Scoring an adapted predictor on a device's own held-out measurements, beside the simplest
references fitted on the same measurements (step 4 of suggest -> measure -> adapt -> score).

Every method sees only the rows used for adaptation (`used`); all are scored on the measured
rows outside them: Spearman, Kendall, the share of predictions within 10 % of the measured
latency and the median absolute percentage error (milliseconds against milliseconds).
"""

import numpy as np

from latpred import metrics
from latpred.apps.measurements import Measurements
from latpred.baselines import simple

REFERENCES = ("stack_only", "ridge", "flops", "nearest")


def score_device(space, table, train_hw, measured: Measurements, used: Measurements,
                 predicted_ms_A) -> dict:
  """{method: metrics.evaluate(...)} on `measured` less `used`, for 'adapted' (the predictions
  of every architecture, [A] ms) and each of `REFERENCES` fitted on `used` with the training
  devices `train_hw` (names of `table`'s devices), plus 'rows' {used, scored}."""
  used_set = set(used.arch_idx.tolist())
  if not used_set <= set(measured.arch_idx.tolist()):
    raise ValueError("the rows used for adaptation must be among the measured rows")
  keep = np.array([i not in used_set for i in measured.arch_idx])
  if keep.sum() < 3:
    raise ValueError(f"{keep.sum()} measured rows outside those used for adaptation; need 3")
  held, truth = measured.arch_idx[keep], measured.latency_ms[keep]
  predicted_ms_A = np.asarray(predicted_ms_A, np.float64)
  if predicted_ms_A.shape != (space.num_archs,):
    raise ValueError(f"need a prediction per architecture ({space.num_archs}), got "
                     f"{predicted_ms_A.shape}")
  train_ids = table.hw_indices(train_hw)  # KeyError naming the valid devices
  out = {"rows": {"used": int(used.num), "scored": int(keep.sum())},
         "adapted": metrics.evaluate(predicted_ms_A[held], truth)}
  for method in REFERENCES:
    pred, extra = simple.predict_ms(method, space, table, train_ids, used.arch_idx,
                                    used.latency_ms)
    scores = extra.get("rank_scores")
    out[method] = metrics.evaluate(pred[held], truth,
                                   rank_scores=None if scores is None else scores[held])
  return out


def markdown(scores: dict, title: str) -> str:
  rows = scores["rows"]
  lines = [f"### {title}", "",
           f"Fitted on {rows['used']} measured architectures, scored on {rows['scored']} others.",
           "", "| method | Spearman | Kendall | within 10 % (%) | median abs. error (%) |",
           "| --- | --- | --- | --- | --- |"]
  for method, m in scores.items():
    if method != "rows":
      lines.append(f"| {method} | {m['spearman']:.3f} | {m['kendall']:.3f} | "
                   f"{m['within_10pct']:.1f} | {m['median_ape_pct']:.1f} |")
  return "\n".join(lines) + "\n"


def agreement(first_ms, second_ms) -> dict:
  """How two measurements of the same architectures agree ([n] ms each): Spearman, the median
  and 90th percentile of |second - first| / first (%), the median ratio second / first, and the
  median difference once that common factor is divided out (%)."""
  a, b = np.asarray(first_ms, np.float64), np.asarray(second_ms, np.float64)
  if a.shape != b.shape or a.ndim != 1 or len(a) < 3:
    raise ValueError(f"need two equal-length measurements of at least 3 rows, got {a.shape} "
                     f"and {b.shape}")
  if not ((a > 0).all() and (b > 0).all()):
    raise ValueError("latencies must be positive")
  diff = np.abs(b - a) / a * 100
  ratio = float(np.median(b / a))
  return {"n": int(len(a)), "spearman": float(metrics.spearman(a, b)),
          "median_diff_pct": float(np.median(diff)),
          "p90_diff_pct": float(np.percentile(diff, 90)), "median_ratio": ratio,
          "median_diff_without_ratio_pct": float(np.median(np.abs(b / ratio - a) / a * 100))}
