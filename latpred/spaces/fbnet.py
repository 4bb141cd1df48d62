"""FBNet networks: 22 searchable layers, each one of 9 blocks (Wu et al., "FBNet", CVPR 2019).

Block names: k{kernel}_e{expansion}[_g2 for grouped convs], and `skip`.
"""

import re
from typing import Sequence

import numpy as np

OPS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
NUM_LAYERS = 22
NODE_TYPES = ("input", "output") + OPS
VARIANTS = ("chain", "identity")


def parse(arch) -> np.ndarray:
  """Op ids int32 [22] from 22 op ids, 22 op names, an '_'-joined id string ('7_8_1_...'), or a
  string of ids or op names separated by spaces/commas, optionally in brackets ('[7, 8, ...]').

  Raises:
    ValueError: wrong length, an unknown op name, or an id outside 0..8.
  """
  if isinstance(arch, str):
    if "_" in arch and arch.replace("_", "").isdigit():
      arch = arch.split("_")
    else:
      arch = [t for t in re.split(r"[\s,;\[\]()]+", arch) if t]
  ops = list(arch)
  if len(ops) != NUM_LAYERS:
    raise ValueError(f"FBNet arch needs {NUM_LAYERS} layers, got {len(ops)}: {ops!r}")
  ids = []
  for layer, op in enumerate(ops):
    if isinstance(op, str) and not op.isdigit():
      if op not in OPS:
        raise ValueError(f"FBNet arch layer {layer}: unknown op {op!r}; valid: {', '.join(OPS)}")
      ids.append(OPS.index(op))
    else:
      i = int(op)
      if not 0 <= i < len(OPS):
        raise ValueError(f"FBNet arch layer {layer}: op id {i} is outside 0..{len(OPS) - 1}")
      ids.append(i)
  return np.array(ids, dtype=np.int32)


def to_string(op_ids: Sequence[int]) -> str:
  """The '_'-joined op ids, the key the NASFLAT proxy file uses."""
  return "_".join(str(int(i)) for i in op_ids)


def graph(op_ids: Sequence[int], variant: str = "chain"):
  """The graph of one network.

  Args:
    op_ids: 22 op ids.
    variant: 'chain' (latpred's default): input -> layer 1 -> ... -> layer 22 -> output, 24 nodes,
      every layer's op kept. 'identity': the reference's 22 layer nodes with identity adjacency
      (each node only messages itself).

  Returns:
    (node_types [N] int32 into `NODE_TYPES`, senders [E] int32, receivers [E] int32).
  """
  layers = [2 + int(i) for i in op_ids]
  if variant == "chain":
    node_types = np.array([0] + layers + [1], dtype=np.int32)
    senders = np.arange(NUM_LAYERS + 1, dtype=np.int32)
    return node_types, senders, senders + 1
  if variant == "identity":
    loops = np.arange(NUM_LAYERS, dtype=np.int32)
    return np.array(layers, dtype=np.int32), loops, loops.copy()
  raise ValueError(f"unknown FBNet graph variant {variant!r}; valid: {', '.join(VARIANTS)}")


SKIP = OPS.index("skip")


def layer_costs(op_ids_AxL: np.ndarray, totals_AxK: np.ndarray) -> np.ndarray:
  """Per-(layer, op) share of additive network totals (e.g. FLOPs, params), [L, 9, K].

  Totals are a fixed part plus one cost per layer that depends on the layer and its op, so a
  least-squares fit on one-hot (layer, op) recovers the per-layer costs exactly. Each layer's
  `skip` is the reference (cost 0; the fixed part absorbs the rest), so costs of other ops are
  relative to skip and may be negative where skip carries a projection.

  Raises:
    ValueError: the totals are not additive over layers (relative residual above 1e-6).
  """
  a, num_layers = op_ids_AxL.shape
  cols = [(layer, op) for layer in range(num_layers) for op in range(len(OPS)) if op != SKIP]
  x = np.zeros((a, len(cols) + 1))
  x[:, -1] = 1.0
  for c, (layer, op) in enumerate(cols):
    x[:, c] = op_ids_AxL[:, layer] == op
  coef, *_ = np.linalg.lstsq(x, totals_AxK, rcond=None)
  residual = np.abs(x @ coef - totals_AxK).max(0) / np.abs(totals_AxK).mean(0)
  if np.any(residual > 1e-6):
    raise ValueError(f"totals are not additive over layers (relative residual {residual})")
  out = np.zeros((num_layers, len(OPS), totals_AxK.shape[1]))
  for c, (layer, op) in enumerate(cols):
    out[layer, op] = coef[c]
  return out
