"""Training-free baselines: rank by FLOPs or parameters, copy the nearest training device,
ridge regression on the training devices' latencies.

  flops, params  rank by MFLOPs / parameter count (no samples, no training)
  nearest        rank by the latency of the training device whose latencies on the m samples
                 correlate best (Spearman) with the target's
  ridge          ridge regression of the target's log-latency on the training devices'
                 log-latencies plus log MFLOPs and log Mparams, fitted on the m samples
                 (columns standardised over the samples, lambda = RIDGE_LAMBDA, not tuned)
"""

import numpy as np

from latpred.adapt import transfer

METHODS = ("flops", "params", "nearest", "ridge")
RIDGE_LAMBDA = 1.0


def ridge_fit_predict(x_AxK, sample_idx, y, lam: float = RIDGE_LAMBDA) -> np.ndarray:
  """Ridge of y on x's rows `sample_idx` (standardised, free intercept); predictions for all."""
  x = np.asarray(x_AxK, np.float64)
  mu, sd = x[sample_idx].mean(0), x[sample_idx].std(0)
  sd = np.where(sd > 0, sd, 1.0)
  z = (x - mu) / sd
  zs, y = z[sample_idx], np.asarray(y, np.float64)
  w = np.linalg.solve(zs.T @ zs + lam * np.eye(z.shape[1]), zs.T @ (y - y.mean()))
  return z @ w + y.mean()


def scores(method: str, space, table, train_ids, picks, sample_latency_ms) -> tuple:
  """Scores (higher = slower) of every architecture of `space` for one target measured on
  `picks`, and extra record fields."""
  train_lat = table.latency_ms_HxA[train_ids].astype(np.float64)
  if method == "flops":
    return space.mflops_A, {}
  if method == "params":
    return space.mparams_A, {}
  if method == "nearest":
    src = transfer.most_correlated_hw(sample_latency_ms, train_lat[:, picks], train_ids)
    return table.latency_ms_HxA[src], {"copied_hw_row": table.hw_names[src]}
  if method == "ridge":
    x = np.column_stack([np.log(train_lat).T, np.log(space.mflops_A), np.log(space.mparams_A)])
    return ridge_fit_predict(x, picks, np.log(sample_latency_ms)), {}
  raise ValueError(f"unknown training-free baseline {method!r}; valid: {', '.join(METHODS)}")
