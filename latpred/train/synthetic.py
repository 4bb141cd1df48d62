"""Synthetic training devices for pretraining (`config.pretrain.synthetic_devices`; beyond
reference).

A target whose latency is not close to a mix of the training devices' (a GPU at batch 1 from
phone and CPU training devices: kernel launches, not FLOPs) sits outside the device space the
hardware table learned. Synthetic devices widen it: device j's latency of architecture a is a
random non-negative mix

  latency_j(a) = sum_c w_jc * column_c(a) / mean(column_c),   w_j ~ Dirichlet(concentration)

of *columns*: the training devices' measured latencies and the architectures' cost counts (the
stack's GNN-free basis with every physics column, whatever `transfer.stack_physics` says: FLOPs,
params, compute-op count, kernel launches, activation elements; `stacking.synthetic_devices`).
Each column is divided by its mean over the architectures first, so that no column outweighs
the others by its unit; a small concentration draws sparse mixes (a few dominant columns), so
some synthetic devices lie near a pure count (for example kernel launches), outside the span of
the training devices alone. The pretraining loss ranks within a device, so the mixes' overall
scale does not matter. The synthetic devices get their own hardware-table rows after the
table's real devices (`build.hw_rows`).
"""

import numpy as np

CONCENTRATION = 0.3  # Dirichlet concentration of the mixing weights (sparse mixes)


def mix_latency(columns_CxA, num: int, seed, concentration: float = CONCENTRATION) -> np.ndarray:
  """`num` synthetic devices' latencies over every architecture, float32 [num, A] (unitless)."""
  cols = np.asarray(columns_CxA, np.float64)
  if cols.ndim != 2 or not len(cols):
    raise ValueError(f"need columns [C, A] with C >= 1, got shape {cols.shape}")
  if num < 0:
    raise ValueError(f"synthetic_devices must be >= 0, got {num}")
  if not np.isfinite(cols).all() or (cols < 0).any():
    raise ValueError("synthetic devices mix non-negative finite columns")
  mean = cols.mean(axis=1, keepdims=True)
  if (mean <= 0).any():
    raise ValueError(f"columns {np.flatnonzero(mean[:, 0] <= 0).tolist()} are all zero")
  weights = np.random.default_rng(seed).dirichlet(np.full(len(cols), concentration), size=num)
  return (weights @ (cols / mean)).astype(np.float32)


def row_name(hw_names, row: int) -> str:
  """A hardware-table row's device name: the table's, or 'synthetic_<j>' for the rows after it."""
  row = int(row)
  return hw_names[row] if row < len(hw_names) else f"synthetic_{row - len(hw_names)}"


def row_index(hw_names, name: str) -> int:
  """`row_name`'s inverse."""
  if name in hw_names:
    return list(hw_names).index(name)
  if name.startswith("synthetic_") and name[len("synthetic_"):].isdigit():
    return len(hw_names) + int(name[len("synthetic_"):])
  raise KeyError(f"unknown hardware-table row {name!r}; valid: {', '.join(hw_names)} or "
                 "synthetic_<j>")
