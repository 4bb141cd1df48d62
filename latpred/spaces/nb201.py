"""NAS-Bench-201 cells: arch strings, op-on-node graphs, exact FLOPs and parameter counts.

A cell string lists the six edge operations, grouped by the node they enter:
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, i.e. edges e(0->1), e(0->2), e(1->2), e(0->3), e(1->3),
e(2->3) (Dong & Yang, "NAS-Bench-201", ICLR 2020).
"""

import re
from typing import Sequence

import numpy as np

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (from cell node, to cell node) of each edge, in string order.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
# Graph node types: 0 input, 1 output, 2.. the ops in `OPS` order.
NODE_TYPES = ("input", "output") + OPS
NUM_NODES = 8  # input, 6 op nodes in edge order, output
INPUT, OUTPUT = 0, NUM_NODES - 1

_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")


def parse(arch: str) -> tuple[str, ...]:
  """Returns the six op names of a cell string, in edge order.

  Raises:
    ValueError: saying what is wrong (shape, an unknown op, a wrong source node).
  """
  if not isinstance(arch, str):
    raise ValueError(f"NB201 arch must be a string, got {type(arch).__name__}")
  groups = arch.split("+")
  if len(groups) != 3:
    raise ValueError(f"NB201 arch {arch!r}: expected 3 '+'-separated node groups, "
                     f"got {len(groups)}")
  ops = []
  for to_node, group in enumerate(groups, start=1):
    if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
      raise ValueError(f"NB201 arch {arch!r}: group {group!r} must be enclosed in '|'")
    tokens = group[1:-1].split("|")
    if len(tokens) != to_node:
      raise ValueError(f"NB201 arch {arch!r}: node {to_node} needs {to_node} inputs, "
                       f"got {len(tokens)} in {group!r}")
    for from_node, token in enumerate(tokens):
      match = _TOKEN.match(token)
      if not match:
        raise ValueError(f"NB201 arch {arch!r}: token {token!r} is not 'op~node'")
      op, src = match.group(1), int(match.group(2))
      if op not in OPS:
        raise ValueError(f"NB201 arch {arch!r}: unknown op {op!r}; valid: {', '.join(OPS)}")
      if src != from_node:
        raise ValueError(f"NB201 arch {arch!r}: token {token!r} should come from node "
                         f"{from_node}, not {src}")
      ops.append(op)
  return tuple(ops)


def to_string(ops: Sequence[str]) -> str:
  """The cell string of six op names in edge order (inverse of `parse`)."""
  if len(ops) != len(EDGES):
    raise ValueError(f"NB201 cell needs {len(EDGES)} ops, got {len(ops)}")
  for op in ops:
    if op not in OPS:
      raise ValueError(f"unknown NB201 op {op!r}; valid: {', '.join(OPS)}")
  groups, k = [], 0
  for to_node in (1, 2, 3):
    groups.append("|" + "|".join(f"{ops[k + i]}~{i}" for i in range(to_node)) + "|")
    k += to_node
  return "+".join(groups)


def op_ids(ops: Sequence[str]) -> np.ndarray:
  """Op names -> ids into `OPS`, int32 [6]."""
  return np.array([OPS.index(op) for op in ops], dtype=np.int32)


def _base_edges() -> list[tuple[int, int]]:
  """Op-on-node edges: e(i->j) feeds every op leaving cell node j (or the output if j == 3)."""
  edges = []
  for k, (i, j) in enumerate(EDGES):
    node = k + 1
    if i == 0:
      edges.append((INPUT, node))
    for k2, (i2, _) in enumerate(EDGES):
      if i2 == j:
        edges.append((node, k2 + 1))
    if j == 3:
      edges.append((node, OUTPUT))
  return sorted(edges)


BASE_EDGES = tuple(_base_edges())


def disconnected(ops: Sequence[str]) -> bool:
  """Whether no path of non-'none' ops leads from the cell's input (node 0) to its output (node
  3): the cell then outputs zeros whatever its input. 341 of the 15,625 cells; pixel3 and raspi4
  measure their networks at 0.003-0.15 ms (the runtime drops the dead computation), the other
  devices at about 75 % of a connected cell's latency."""
  reached = {0}
  for (src, dst), op in sorted(zip(EDGES, ops), key=lambda e: e[0][1]):
    if src in reached and op != "none":
      reached.add(dst)
  return 3 not in reached


def graph(ops: Sequence[str], pruned: bool = False):
  """The 8-node op-on-node graph of a cell.

  Args:
    ops: six op names in edge order.
    pruned: the reference implementation's variant: edges into and out of `none` ops are
      removed, and each `skip_connect` op is bypassed (its predecessors connect straight to its
      successors, and it keeps no edges). Node count stays 8, so shapes do not change.

  Returns:
    (node_types [8] int32 into `NODE_TYPES`, senders [E] int32, receivers [E] int32).
  """
  node_types = np.array([0] + [2 + OPS.index(op) for op in ops] + [1], dtype=np.int32)
  edges = set(BASE_EDGES)
  if pruned:
    for k, op in enumerate(ops):
      node = k + 1
      if op == "none":
        edges = {(s, r) for s, r in edges if node not in (s, r)}
      elif op == "skip_connect":
        preds = [s for s, r in edges if r == node]
        succs = [r for s, r in edges if s == node]
        edges = {(s, r) for s, r in edges if node not in (s, r)}
        edges |= {(p, q) for p in preds for q in succs}
  edges = sorted(edges)
  senders = np.array([s for s, _ in edges], dtype=np.int32)
  receivers = np.array([r for _, r in edges], dtype=np.int32)
  return node_types, senders, receivers


# --- FLOPs and parameters of the NB201 CIFAR network --------------------------------------------
# Network: 3x3 stem conv (3->16) + BN; three stages of 5 cells at C = 16, 32, 64 and 32x32, 16x16,
# 8x8 resolution, joined by residual reduction blocks; BN + ReLU; global average pool; linear
# classifier (100 classes). A cell op on C channels at HxW: ReLU-Conv-BN (kxk conv) or 3x3 avg pool;
# skip and none are free. Parameters count every op of the cell, reachable or not.
#
# FLOPs follow the counting convention of the reference table (NASLib's NB201 flops, counted by a
# torchstat-style module counter): a conv costs k*k*Cin*Cout/groups per output element, BN 2 and
# ReLU 1 per element, an avg pool k*k per output element, the linear layer in*out, the global
# average pool 81 per channel (the counter's kernel rule for the 8x8 -> 1x1 adaptive pool);
# additions in cells and residuals are not counted. Units: MFLOPs and millions of parameters.

_STAGES = ((16, 32), (32, 16), (64, 8))  # (channels, resolution)
_CELLS_PER_STAGE = 5
_NUM_CLASSES = 100


def _relu_conv_bn(cin, cout, k, hw_in, hw_out):
  flops = cin * hw_in * hw_in + k * k * cin * cout * hw_out * hw_out + 2 * cout * hw_out * hw_out
  params = k * k * cin * cout + 2 * cout
  return flops, params


def _op_cost(op: str) -> tuple[int, int]:
  """(FLOPs, params) of one cell edge op summed over all 15 cells."""
  flops = params = 0
  for c, hw in _STAGES:
    if op in ("nor_conv_1x1", "nor_conv_3x3"):
      k = 1 if op == "nor_conv_1x1" else 3
      f, p = _relu_conv_bn(c, c, k, hw, hw)
    elif op == "avg_pool_3x3":
      f, p = 9 * c * hw * hw, 0
    else:
      f, p = 0, 0
    flops += _CELLS_PER_STAGE * f
    params += _CELLS_PER_STAGE * p
  return flops, params


def _fixed_cost() -> tuple[int, int]:
  """(FLOPs, params) of everything outside the cells."""
  flops = 9 * 3 * 16 * 32 * 32 + 2 * 16 * 32 * 32  # stem conv + BN
  params = 9 * 3 * 16 + 2 * 16
  for (cin, hw_in), (cout, hw_out) in zip(_STAGES[:-1], _STAGES[1:]):  # reduction blocks
    for f, p in (_relu_conv_bn(cin, cout, 3, hw_in, hw_out),
                 _relu_conv_bn(cout, cout, 3, hw_out, hw_out)):
      flops, params = flops + f, params + p
    flops += 4 * cin * hw_out * hw_out + cin * cout * hw_out * hw_out  # 2x2 avg pool + 1x1 conv
    params += cin * cout
  c, hw = _STAGES[-1]
  flops += 3 * c * hw * hw + 81 * c + c * _NUM_CLASSES  # BN+ReLU, global pool, linear
  params += 2 * c + c * _NUM_CLASSES + _NUM_CLASSES
  return flops, params


_FIXED = _fixed_cost()
_OP_COST = {op: _op_cost(op) for op in OPS}


def flops_params(ops: Sequence[str]) -> tuple[float, float]:
  """(MFLOPs, millions of parameters) of the NB201 CIFAR-100 network built from this cell."""
  flops, params = _FIXED
  for op in ops:
    f, p = _OP_COST[op]
    flops, params = flops + f, params + p
  return flops / 1e6, params / 1e6


def node_costs(ops: Sequence[str]) -> np.ndarray:
  """Per-node (MFLOPs, Mparams) of the 8-node graph: each op's cost summed over the network's
  15 cells; input and output nodes cost 0. float64 [8, 2]."""
  out = np.zeros((NUM_NODES, 2))
  for k, op in enumerate(ops):
    out[k + 1] = np.array(_OP_COST[op]) / 1e6
  return out
