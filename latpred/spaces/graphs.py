"""The one place that batches and pads architecture graphs (host-side numpy) into jraph tuples.

Every architecture of a space is stored once as fixed-width arrays (A archs, N nodes, E edge
slots, unused edge slots masked). A batch of B architectures becomes a `jraph.GraphsTuple` with
B real graphs plus one padding graph, B*N + 1 nodes and B*E + 1 edges, whatever the batch holds,
so a jitted function compiles once per batch size. Padding follows jraph's contract (padding
graph last, padding nodes and edges at the end), and `node_mask` / `graph_mask` are jittable.
`gather_batch` builds the same batch inside jit from the arrays on device (`device_arrays`).
"""

import dataclasses
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import jraph
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class GraphSet:
  """All graphs of a space as padded arrays. Key: A archs, N nodes, E edge slots."""

  node_types_AxN: np.ndarray  # int32
  senders_AxE: np.ndarray  # int32, local node index
  receivers_AxE: np.ndarray  # int32, local node index
  edge_mask_AxE: np.ndarray  # bool: False for unused edge slots
  node_feats_AxNxF: np.ndarray  # float32 per-node features (F may be 0)

  @property
  def num_archs(self) -> int:
    return self.node_types_AxN.shape[0]

  @property
  def num_nodes(self) -> int:
    return self.node_types_AxN.shape[1]

  @property
  def num_edge_slots(self) -> int:
    return self.senders_AxE.shape[1]


def build_graph_set(graphs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                    node_feats_AxNxF: Optional[np.ndarray] = None) -> GraphSet:
  """Stacks per-architecture (node_types, senders, receivers) with equal node counts, and
  optional per-node features [A, N, F]."""
  num_nodes = {len(g[0]) for g in graphs}
  if len(num_nodes) != 1:
    raise ValueError(f"all graphs of a space need the same node count, got {sorted(num_nodes)}")
  width = max(1, max(len(g[1]) for g in graphs))
  a = len(graphs)
  senders = np.zeros((a, width), np.int32)
  receivers = np.zeros((a, width), np.int32)
  mask = np.zeros((a, width), bool)
  for i, (_, s, r) in enumerate(graphs):
    senders[i, :len(s)], receivers[i, :len(r)], mask[i, :len(s)] = s, r, True
  nodes = np.stack([g[0] for g in graphs]).astype(np.int32)
  if node_feats_AxNxF is None:
    node_feats_AxNxF = np.zeros(nodes.shape + (0,), np.float32)
  feats = np.asarray(node_feats_AxNxF, np.float32)
  if feats.shape[:2] != nodes.shape:
    raise ValueError(f"node features {feats.shape} do not match nodes {nodes.shape}")
  for arr in (nodes, senders, receivers, mask, feats):
    arr.setflags(write=False)
  return GraphSet(nodes, senders, receivers, mask, feats)


def batch(graph_set: GraphSet, arch_idx: np.ndarray, batch_size: int) -> jraph.GraphsTuple:
  """Pads the graphs of `arch_idx` (at most `batch_size`) into a fixed-shape GraphsTuple.

  Shapes depend only on `batch_size` and the space: B+1 graphs, B*N+1 nodes, B*E+1 edges.
  `nodes` is {'type': int32 [T] node-type ids, 'feat': float32 [T, F]}; `globals` is None
  (targets never ride in the graph).
  """
  arch_idx = np.asarray(arch_idx, dtype=np.int64)
  b = len(arch_idx)
  if b > batch_size:
    raise ValueError(f"{b} architectures do not fit a batch of {batch_size}")
  n, e = graph_set.num_nodes, graph_set.num_edge_slots
  total_nodes, total_edges = batch_size * n + 1, batch_size * e + 1

  types = np.zeros(total_nodes, np.int32)
  types[:b * n] = graph_set.node_types_AxN[arch_idx].reshape(-1)
  feats = np.zeros((total_nodes, graph_set.node_feats_AxNxF.shape[2]), np.float32)
  feats[:b * n] = graph_set.node_feats_AxNxF[arch_idx].reshape(b * n, -1)

  offsets = (np.arange(b) * n)[:, None]
  mask = graph_set.edge_mask_AxE[arch_idx].reshape(-1)
  senders_real = (graph_set.senders_AxE[arch_idx] + offsets).reshape(-1)[mask]
  receivers_real = (graph_set.receivers_AxE[arch_idx] + offsets).reshape(-1)[mask]
  pad_node = b * n  # first padding node; every padding edge loops on it
  senders = np.full(total_edges, pad_node, np.int32)
  receivers = np.full(total_edges, pad_node, np.int32)
  senders[:len(senders_real)], receivers[:len(receivers_real)] = senders_real, receivers_real

  n_node = np.zeros(batch_size + 1, np.int32)
  n_node[:b] = n
  n_node[-1] = total_nodes - b * n
  n_edge = np.zeros(batch_size + 1, np.int32)
  n_edge[:b] = graph_set.edge_mask_AxE[arch_idx].sum(axis=1)
  n_edge[-1] = total_edges - len(senders_real)
  return jraph.GraphsTuple(nodes={"type": types, "feat": feats}, edges=None, senders=senders,
                           receivers=receivers, globals=None, n_node=n_node, n_edge=n_edge)


def node_mask(graphs: jraph.GraphsTuple) -> jnp.ndarray:
  """True for real nodes (jittable): all nodes but the padding graph's, which come last."""
  num_nodes = graphs.nodes["type"].shape[0]
  return jnp.arange(num_nodes) < num_nodes - graphs.n_node[-1]


def graph_mask(graphs: jraph.GraphsTuple) -> jnp.ndarray:
  """True for real graphs (jittable): every graph but the last, padding one."""
  return jnp.arange(graphs.n_node.shape[0]) < graphs.n_node.shape[0] - 1


def node_graph_index(graphs: jraph.GraphsTuple) -> jnp.ndarray:
  """Graph id of every node, int32 [num_nodes] (jittable, static total)."""
  num_nodes = graphs.nodes["type"].shape[0]
  return jnp.repeat(jnp.arange(graphs.n_node.shape[0]), graphs.n_node,
                    total_repeat_length=num_nodes)


CACHE_NODES = 2048  # node rows of an inference batch that stay in a CPU's cache


def cache_batch(nodes_per_graph: int, platform: Optional[str] = None) -> int:
  """Graphs per inference batch or step that keep its 128-wide activations in a CPU's cache: the
  power of two nearest below CACHE_NODES node rows (256 NB201 cells, 64 FBNet networks), 1.6x
  faster than batches of 15,625 or 1,024 NB201 cells on the 2-core CPU (docs/throughput.md,
  session 13); 0 (no such limit) on other platforms (`platform`: JAX's default backend if None),
  where a larger batch keeps an accelerator busy."""
  if nodes_per_graph < 1:
    raise ValueError(f"nodes_per_graph must be >= 1, got {nodes_per_graph}")
  platform = platform or jax.default_backend()
  if platform != "cpu":
    return 0
  return 1 << max(0, (CACHE_NODES // nodes_per_graph).bit_length() - 1)


def batches(num: int, batch_size: int) -> list[np.ndarray]:
  """Consecutive index chunks covering range(num), the last possibly short (for inference)."""
  return [np.arange(i, min(i + batch_size, num)) for i in range(0, num, batch_size)]



def device_arrays(graph_set: GraphSet) -> dict:
  """The graph set's padded arrays as jnp arrays, for `gather_batch` inside jit."""
  return {"types": jnp.asarray(graph_set.node_types_AxN),
          "senders": jnp.asarray(graph_set.senders_AxE),
          "receivers": jnp.asarray(graph_set.receivers_AxE),
          "mask": jnp.asarray(graph_set.edge_mask_AxE),
          "feats": jnp.asarray(graph_set.node_feats_AxNxF)}


def gather_batch(arrays: dict, arch_idx_B) -> jraph.GraphsTuple:
  """`batch` of exactly the B architectures `arch_idx_B`, in jnp (jittable). Unused edge slots
  loop on the padding node instead of moving to the end; the model's segment sums and softmaxes
  over receivers cannot tell the two apart (`n_edge` still counts each graph's real edges)."""
  idx = jnp.asarray(arch_idx_B)
  b = idx.shape[0]
  n, e = arrays["types"].shape[1], arrays["senders"].shape[1]
  pad_node = b * n
  offsets = (jnp.arange(b) * n)[:, None]
  mask = arrays["mask"][idx]
  senders = jnp.where(mask, arrays["senders"][idx] + offsets, pad_node).reshape(-1)
  receivers = jnp.where(mask, arrays["receivers"][idx] + offsets, pad_node).reshape(-1)
  types = jnp.concatenate([arrays["types"][idx].reshape(-1), jnp.zeros(1, jnp.int32)])
  feats = arrays["feats"][idx].reshape(b * n, -1)
  feats = jnp.concatenate([feats, jnp.zeros((1, feats.shape[1]), feats.dtype)])
  pad = jnp.full(1, pad_node, jnp.int32)
  n_edge = mask.sum(1).astype(jnp.int32)
  return jraph.GraphsTuple(
      nodes={"type": types, "feat": feats}, edges=None,
      senders=jnp.concatenate([senders, pad]).astype(jnp.int32),
      receivers=jnp.concatenate([receivers, pad]).astype(jnp.int32), globals=None,
      n_node=jnp.concatenate([jnp.full(b, n, jnp.int32), jnp.ones(1, jnp.int32)]),
      n_edge=jnp.concatenate([n_edge, jnp.asarray([b * e + 1], jnp.int32) - n_edge.sum()]))


@dataclasses.dataclass(frozen=True)
class OpTemplate:
  """How a space's graphs follow from op ids alone (`op_template`), for `from_ops`."""

  senders_E: np.ndarray
  receivers_E: np.ndarray
  edge_mask_E: np.ndarray
  slot_N: np.ndarray  # op slot of each node, -1 for a fixed node (input / output)
  fixed_type_N: np.ndarray  # node type of fixed nodes (0 elsewhere)
  fixed_feats_NxF: np.ndarray  # features of fixed nodes (0 elsewhere)
  feats_SxOxF: np.ndarray  # features of a node holding op o in slot s
  type_offset: int  # node type of op id 0


def op_template(graph_set: GraphSet, op_ids_AxS: np.ndarray, num_ops: int,
                atol: float = 1e-6) -> Optional[OpTemplate]:
  """The template when every graph's edges are the same and each node's type and features
  follow from one op slot (FBNet; NB201 'full'), else None (NB201 'pruned': edges follow ops).
  Node features of a (slot, op) are read from the table and checked to be the same in every
  architecture that has them."""
  g, ops = graph_set, np.asarray(op_ids_AxS)
  if not all((x == x[:1]).all() for x in (g.senders_AxE, g.receivers_AxE, g.edge_mask_AxE)):
    return None
  offset = None
  n, f = g.num_nodes, g.node_feats_AxNxF.shape[2]
  slot = np.full(n, -1)
  fixed_type, fixed_feats = np.zeros(n, np.int32), np.zeros((n, f), np.float32)
  feats = np.zeros((ops.shape[1], num_ops, f), np.float32)
  for node in range(n):
    types, node_feats = g.node_types_AxN[:, node], g.node_feats_AxNxF[:, node]
    if (types == types[0]).all():
      if np.abs(node_feats - node_feats[0]).max(initial=0) > atol:
        return None
      fixed_type[node], fixed_feats[node] = types[0], node_feats[0]
      continue
    match = [s for s in range(ops.shape[1]) if len(np.unique(types - ops[:, s])) == 1]
    if not match:
      return None
    slot[node] = match[0]
    offset = int(types[0] - ops[0, match[0]])
    for o in range(num_ops):
      rows = node_feats[ops[:, match[0]] == o]
      if len(rows):
        if np.abs(rows - rows[0]).max() > atol:
          return None
        feats[match[0], o] = rows[0]
  if offset is None:
    return None
  return OpTemplate(g.senders_AxE[0], g.receivers_AxE[0], g.edge_mask_AxE[0], slot, fixed_type,
                    fixed_feats, feats, offset)


def from_ops(template: OpTemplate, ops_BxS) -> jraph.GraphsTuple:
  """`gather_batch`'s batch built from op ids alone (jittable), for any valid op ids."""
  ops = jnp.asarray(ops_BxS)
  b = ops.shape[0]
  slot = jnp.asarray(template.slot_N)
  node_ops = ops[:, jnp.clip(slot, 0, None)]  # [B, N]
  is_op = (slot >= 0)[None, :]
  types = jnp.where(is_op, node_ops + template.type_offset,
                    jnp.asarray(template.fixed_type_N)[None, :]).astype(jnp.int32)
  feats = jnp.where(is_op[..., None],
                    jnp.asarray(template.feats_SxOxF)[jnp.clip(slot, 0, None)[None, :], node_ops],
                    jnp.asarray(template.fixed_feats_NxF)[None])
  arrays = {"types": types, "feats": feats,
            **{k: jnp.broadcast_to(jnp.asarray(v)[None], (b, len(v))) for k, v in (
                ("senders", template.senders_E), ("receivers", template.receivers_E),
                ("mask", template.edge_mask_E))}}
  return gather_batch(arrays, jnp.arange(b))


def predecessors(template: OpTemplate) -> tuple:
  """Each node's predecessors in the template's fixed edges, as a hashable table [K][N] (K the
  largest in-degree, at least 1), rows padded with N where a node has fewer: what
  `sum_from_predecessors` gathers."""
  n = len(template.slot_N)
  real = np.asarray(template.edge_mask_E, bool)
  preds = [[] for _ in range(n)]
  for s, r in zip(np.asarray(template.senders_E)[real], np.asarray(template.receivers_E)[real]):
    preds[int(r)].append(int(s))
  k = max(1, max(len(p) for p in preds))
  return tuple(tuple(p[j] if j < len(p) else n for p in preds) for j in range(k))


def sum_from_predecessors(values_TxD, preds) -> jnp.ndarray:
  """For a batch built by `from_ops` (B graphs of N nodes, then one padding node): each real
  node's sum of its predecessors' rows of `values` [B*N + 1, D], gathered along the fixed
  `predecessors` table, [B*N + 1, D]; the padding node's sum is 0. Equal to
  `segment_sum(values[senders], receivers)` on every real node (the scatter also sums the
  padding node's self-loops, which reach no real node), without the scatter: on the 2-core CPU
  the predict function takes 13 % (NB201) and 9 % (FBNet) less time (docs/throughput.md,
  session 19)."""
  n = len(preds[0])
  t = values_TxD.shape[0]
  if t < 1 or (t - 1) % n:
    raise ValueError(f"sum_from_predecessors needs B*{n} + 1 rows (a from_ops batch), got {t}")
  b = (t - 1) // n
  grid = values_TxD[:b * n].reshape(b, n, -1)
  grid = jnp.concatenate([grid, jnp.zeros_like(grid[:, :1])], axis=1)  # column n: no predecessor
  total = grid[:, np.asarray(preds[0])]
  for row in preds[1:]:
    total = total + grid[:, np.asarray(row)]
  return jnp.concatenate([total.reshape(b * n, -1), jnp.zeros_like(values_TxD[:1])])
