"""Physical costs per architecture that FLOPs and parameters do not carry: kernel launches and
activation elements, from a stored per-(slot, op) table.

  kernels      primitives launched per example (convolutions, dense layers, norms, activations,
               pools, additions, channel shuffles, zeroing), as the reference networks run them
  activations  elements those primitives write per example, in millions (memory traffic)

Both are sums over the searchable slots (FBNet's 22 layers, NB201's 6 cell edges) of a
per-(slot, op) cost, exact for every architecture of the space, measured or not. The table
(`slot_costs.json`) is traced from the flax networks by `latpred.networks.physics.trace`, which
says what is counted and why; the tests check that the stored table equals the trace.
"""

import functools
import json
import pathlib

import numpy as np

FEATURES = ("kernels", "activations")
TABLE = pathlib.Path(__file__).with_name("slot_costs.json")


@functools.lru_cache(maxsize=None)
def slot_costs(space: str) -> np.ndarray:
  """float64 [slots, ops, 2]: each (slot, op)'s kernels and activation Melements, op ids as in
  `space.op_ids` (after a change to the networks, rewrite TABLE with
  `python -m latpred.networks.physics`)."""
  stored = json.loads(TABLE.read_text())
  if space not in stored:
    raise ValueError(f"unknown space {space!r}; valid: {', '.join(stored)}")
  out = np.asarray(stored[space], np.float64)
  out.setflags(write=False)
  return out


def per_slot(space: str, op_ids_BxS) -> np.ndarray:
  """float64 [B, S, 2]: each slot's kernels and activation Melements (op ids [B, S])."""
  table = slot_costs(space)
  ops = np.asarray(op_ids_BxS, np.int64)
  if ops.ndim != 2 or ops.shape[1] != table.shape[0]:
    raise ValueError(f"{space} op ids must be [B, {table.shape[0]}], got {ops.shape}")
  if ops.size and (ops.min() < 0 or ops.max() >= table.shape[1]):
    raise ValueError(f"{space} op ids must lie in [0, {table.shape[1]}), got "
                     f"[{ops.min()}, {ops.max()}]")
  return table[np.arange(table.shape[0])[None], ops]


def features(space: str, op_ids_BxS) -> np.ndarray:
  """float64 [B, 2]: kernels and activation Melements of each architecture (op ids [B, S])."""
  return per_slot(space, op_ids_BxS).sum(1)
