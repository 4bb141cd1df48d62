"""Rank correlations and the evaluation sets of NASFLAT §7 (host-side numpy/scipy)."""

import numpy as np
import scipy.stats

EVAL_SETS = ("all", "exclude_samples", "paper_first128")


def spearman(a, b) -> float:
  return float(scipy.stats.spearmanr(a, b).statistic)


def kendall(a, b) -> float:
  return float(scipy.stats.kendalltau(a, b).statistic)


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
