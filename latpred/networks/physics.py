"""Physical costs of the measured networks per architecture: kernel launches and activations.

Two counts the FLOPs and parameter columns do not carry, read from the networks' own cost
records (`layers.count`, traced abstractly):

  kernels      primitives launched per example: every recorded convolution, dense layer, norm,
               activation, pool, addition, channel shuffle and zeroing ('none') is one kernel,
               as the reference PyTorch networks run them (no fusion assumed)
  activations  elements those primitives write per example, in millions (memory traffic)

Why: at batch 1 a GPU's latency is close to a per-kernel overhead times the kernel count (on the
tuning split FT3's titanx_1 target, the stack's GNN-free columns fitted on all 5,000 FBNet
networks rank them at 0.942 Spearman, and at 0.989 with the kernel count added), and at larger
batches activation traffic matters; neither is a non-negative mix of CPU or phone latencies
(docs/tuning.md, session 10).

Both counts are sums over the searchable slots (FBNet's 22 layers, NB201's 6 cell edges) of a
per-(slot, op) cost, exact for every architecture of the space, measured or not; the fixed parts
(stem, header, reductions, NB201's cell sums) are a constant and left out. FBNet is counted at its
measured resolution (`fbnet.RESOLUTIONS['imagenet']`), NB201 at CIFAR's 32x32. The per-(slot,
op) table is traced from the flax networks here (`trace`) and stored with the spaces
(`latpred/spaces/slot_costs.json`, read by `latpred.spaces.physics`, which the stack and the
graphs' node features use), which saves every process 1-3 s of tracing; the tests check that the
two agree exactly.
"""

import json

import numpy as np

from latpred.networks import fbnet, layers, nb201
from latpred.spaces import fbnet as fbnet_space
from latpred.spaces import nb201 as nb201_space
from latpred.spaces import physics as space_physics


def _counts(costs) -> np.ndarray:
  """(kernels, activation Melements) of cost records."""
  return np.array([len(costs), sum(c.count // c.fan_in for c in costs) / 1e6])


def _fbnet_slots() -> np.ndarray:
  size = fbnet.RESOLUTIONS["imagenet"].input_size
  out = np.zeros((len(fbnet.layer_plan()), len(fbnet_space.OPS), len(space_physics.FEATURES)))
  for j, op in enumerate(fbnet_space.OPS):
    _, costs = layers.count(fbnet.Network((op,) * len(out), "imagenet"), (1, size, size, 3))
    for i in range(len(out)):
      out[i, j] = _counts([c for c in costs if c.layer == f"layer_{i}"])
  return out


def _nb201_slots() -> np.ndarray:
  """Every edge of a cell sees its cell's input shape, so an edge's cost is one sixth of a
  uniform cell's (its sums excluded), summed over the network's cells."""
  edges = len(nb201_space.EDGES)
  out = np.zeros((edges, len(nb201_space.OPS), len(space_physics.FEATURES)))
  for j, op in enumerate(nb201_space.OPS):
    _, costs = layers.count(nb201.network((op,) * edges), (1, 32, 32, 3))
    out[:, j] = _counts([c for c in costs
                         if c.layer.startswith("cell_") and c.kind != "add"]) / edges
  return out


def trace(space: str) -> np.ndarray:
  """float64 [slots, ops, 2]: each (slot, op)'s kernels and activation Melements, op ids as in
  `space.op_ids`, traced from the flax networks (1-3 s; `latpred.spaces.physics.slot_costs`
  reads it stored)."""
  if space == "fbnet":
    return _fbnet_slots()
  if space == "nb201":
    return _nb201_slots()
  raise ValueError(f"unknown space {space!r}; valid: nb201, fbnet")


if __name__ == "__main__":
  table = space_physics.TABLE
  table.write_text(json.dumps({name: trace(name).tolist() for name in ("nb201", "fbnet")}) + "\n")
  print(f"wrote {table}")
