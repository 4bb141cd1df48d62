"""Baselines without a learned network: rank by FLOPs or parameters, copy the nearest training
device, ridge regression, and the stack without its GNN column.

  flops, params  rank by MFLOPs / parameter count (no training)
  nearest        the latency of the training device whose latencies on the m samples correlate
                 best (Spearman) with the target's
  ridge          ridge regression of the target's log-latency on the training devices'
                 log-latencies plus log MFLOPs and log Mparams, fitted on the m samples
                 (columns standardised over the samples, lambda = RIDGE_LAMBDA, not tuned)
  stack_only     latpred's stack (latpred.adapt.stacking) without its GNN column: a non-negative
                 least-squares mix of the training devices' latencies, MFLOPs, Mparams and the
                 compute-op count (and the physics columns `physics`, the predictor's
                 config.transfer.stack_physics) with a free intercept, fitted on the m samples
                 with the predictor's stack loss (config.transfer.stack_loss)

Milliseconds: ridge and stack_only predict them; the rank-only methods (flops, params, nearest)
are mapped to ms by a least-squares line through their scores on the m samples (`linear_ms`),
and their Spearman/Kendall are those of their own ranking (a line fitted on 5 samples can have a
negative slope, which would reverse it).
"""

import numpy as np

from latpred.adapt import stacking, transfer

METHODS = ("flops", "params", "nearest", "ridge", "stack_only")
RANK_ONLY = ("flops", "params", "nearest")  # ms from a linear fit on the samples
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


def linear_ms(scores_A, picks, sample_latency_ms) -> np.ndarray:
  """Scores mapped to ms by the least-squares line through the m samples (a rank-only method's
  milliseconds)."""
  scores_A = np.asarray(scores_A, np.float64)
  a, b = transfer.fit_ms_scale(scores_A[picks], sample_latency_ms)
  return a * scores_A + b


def predict_ms(method: str, space, table, train_ids, picks, sample_latency_ms,
               physics=(), stack_loss: str = "absolute") -> tuple:
  """Predicted latency (ms) of every architecture of `space` for one target measured on
  `picks`, and extra record fields; a rank-only method's extra fields hold its own ranking
  scores under 'rank_scores' (what its correlations are scored on)."""
  train_lat = table.latency_ms_HxA[train_ids].astype(np.float64)
  sample_latency_ms = np.asarray(sample_latency_ms, np.float64)
  extra = {}
  if method == "flops":
    scores = space.mflops_A
  elif method == "params":
    scores = space.mparams_A
  elif method == "nearest":
    src = transfer.most_correlated_hw(sample_latency_ms, train_lat[:, picks], train_ids)
    scores, extra = table.latency_ms_HxA[src], {"copied_hw_row": table.hw_names[src]}
  elif method == "ridge":
    x = np.column_stack([np.log(train_lat).T, np.log(space.mflops_A), np.log(space.mparams_A)])
    return np.exp(ridge_fit_predict(x, picks, np.log(sample_latency_ms))), {}
  elif method == "stack_only":
    basis = stacking.basis(space, train_lat, physics)
    stack = stacking.fit(basis[picks], sample_latency_ms, stack_loss)
    names = stacking.basis_columns([table.hw_names[i] for i in train_ids], physics)
    return stack.predict(basis), {"stack_weights": stack.named_weights(names)}
  else:
    raise ValueError(f"unknown baseline {method!r}; valid: {', '.join(METHODS)}")
  return linear_ms(scores, picks, sample_latency_ms), {**extra, "rank_scores": scores}
