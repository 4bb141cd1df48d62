"""The NASFLAT latency predictor (Akhauri & Abdelfattah, MLSys 2024), with latpred's extensions.

Input: one padded batch of architecture graphs (`latpred.graphs.batch`), one device id, and an
optional supplementary encoding per architecture. Output: one score per graph (higher = slower).

Parts (each a field): op embeddings; a hardware-embedding table with one row per device of the
space, placed op-wise (concatenated to every node) or at the head (through an MLP); DGF / GAT /
ensemble layers; the two-pass op-embedding update; mean readout; an optional supplementary
encoding MLP; an optional *additive* readout (beyond the reference: a per-node cost from the
node's final features and the device row, plus optionally a device-weighted linear term in the
node's FLOPs and params, summed over the graph, since latency is close to a sum of per-layer
costs and a mean cannot count layers); with `node_physics`, each node's kernel launches and
activation elements (`latpred.spaces.physics`) join its FLOPs and params in both the node
features and the device-weighted linear term; the MLP head.
"""

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from latpred.model.layers import MLP, GraphLayer
from latpred.spaces import graphs as graphs_lib


class Predictor(nn.Module):
  num_node_types: int
  num_hw: int
  op_dim: int = 48
  hw_dim: int = 8
  hw_placement: str = "opwise"  # 'opwise' | 'head'
  layer_type: str = "ensemble"  # 'dgf' | 'gat' | 'ensemble'
  first_pass_layers: int = 2  # 0 turns the two-pass update off
  main_layers: int = 3
  width: int = 128
  supp_dims: tuple = (128, 128, 48)
  head_dims: tuple = (200, 200, 200)
  additive_readout: bool = True
  drop_input_node: bool = True  # the reference's mean readout skipped the input node
  dropout: float = 0.1
  node_features: bool = True  # per-node FLOPs/params features beside the op embedding
  linear_cost: bool = True  # additive readout adds w_hw . (node FLOPs, node params)
  node_physics: bool = False  # also each node's kernels / activations, in both places above
  # Only for batches built by graphs.from_ops from one fixed-edge template (the pure predict
  # path): graphs.predecessors of that template, so that DGF layers gather messages along it
  # (latpred.model.layers). No parameter depends on it.
  predecessors: Optional[tuple] = None

  @nn.compact
  def __call__(self, graphs: jraph.GraphsTuple, hw_id, supp: Optional[jnp.ndarray] = None,
               train: bool = False):
    """Scores [num_graphs] (padding graph included; mask with `graphs.graph_mask`)."""
    num_nodes = graphs.nodes["type"].shape[0]
    num_graphs = graphs.n_node.shape[0]
    node_graph = graphs_lib.node_graph_index(graphs)
    real = graphs_lib.node_mask(graphs)

    hw_table = self.param("hw_table", nn.initializers.normal(1.0), (self.num_hw, self.hw_dim))
    hw_vec = hw_table[hw_id]
    emb = nn.Embed(self.num_node_types, self.op_dim, name="op_embed")(graphs.nodes["type"])
    if self.node_physics and not (self.node_features or
                                  (self.additive_readout and self.linear_cost)):
      raise ValueError("node_physics extends node_features and the additive readout's "
                       "linear_cost; enable one of them")
    feat = graphs.nodes["feat"]
    if self.node_features:
      emb = jnp.concatenate([emb, feat[:, :2]] + ([feat[:, 4:6]] if self.node_physics else []), -1)
    if self.hw_placement == "opwise":
      emb = jnp.concatenate([emb, jnp.broadcast_to(hw_vec, (num_nodes, self.hw_dim))], -1)
    elif self.hw_placement != "head":
      raise ValueError(f"unknown hw_placement {self.hw_placement!r}; valid: opwise, head")

    def run_pass(x, gate_in, layers, prefix):
      for i in range(layers):
        x = GraphLayer(self.width, self.layer_type, self.predecessors, name=f"{prefix}_{i}")(
            x, gate_in, graphs.senders, graphs.receivers)
        x = nn.relu(x)
      return x

    gate_in = emb
    if self.first_pass_layers:
      h = run_pass(emb, emb, self.first_pass_layers, "first")
      last_node = jnp.cumsum(graphs.n_node) - 1  # output node of each graph
      summary = h[jnp.clip(last_node, 0, num_nodes - 1)][node_graph]
      gate_in = MLP((self.width, emb.shape[-1]), activate_last=False, name="op_update")(
          jnp.concatenate([summary, emb], -1))
    h = run_pass(emb, gate_in, self.main_layers, "main")

    first_node = jnp.cumsum(graphs.n_node) - graphs.n_node
    weight = real.astype(h.dtype)
    if self.drop_input_node:
      weight = weight * (jnp.arange(num_nodes) != first_node[node_graph])
    count = jax.ops.segment_sum(weight, node_graph, num_graphs)
    pooled = jax.ops.segment_sum(h * weight[:, None], node_graph, num_graphs)
    pooled = pooled / jnp.maximum(count, 1.0)[:, None]

    parts = [pooled]
    if self.hw_placement == "head":
      parts.append(jnp.broadcast_to(MLP((16, 16), name="hw_mlp")(hw_vec), (num_graphs, 16)))
    if supp is not None:
      parts.append(MLP(self.supp_dims, self.dropout, name="supp_mlp")(supp, train))
    score = MLP(self.head_dims + (1,), self.dropout, activate_last=False, name="head")(
        jnp.concatenate(parts, -1), train)[:, 0]

    if self.additive_readout:
      node_in = jnp.concatenate([h, emb, jnp.broadcast_to(hw_vec, (num_nodes, self.hw_dim))], -1)
      cost = MLP((64, 1), activate_last=False, name="node_cost")(node_in)[:, 0]
      if self.linear_cost:  # device-specific weights on each node's FLOPs and params
        weights = nn.Dense(2, name="hw_linear_cost")(hw_vec)
        cost = cost + feat[:, 2:4] @ weights
        if self.node_physics:  # and on its kernels and activations
          cost = cost + feat[:, 6:8] @ nn.Dense(2, name="hw_linear_physics")(hw_vec)
      score = score + jax.ops.segment_sum(cost * weight, node_graph, num_graphs)
    return score
