"""Graph layers over padded jraph edge lists: DGF, GAT and their ensemble (NASFLAT §4).

Messages flow along real edges from predecessor (sender) to successor (receiver). Padding edges
loop on the padding node, so they never reach a real node. Where every batch is built from one
fixed-edge template (`graphs.from_ops`: the pure predict path on NB201 'full' and FBNet),
`predecessors` (`graphs.predecessors`) lets DGF sum each node's messages by gathering its fixed
predecessors instead of a scatter over the edges: the same values on every real node, fewer
memory passes (`graphs.sum_from_predecessors`). GAT's attention keeps the edge lists.
"""

from typing import Optional

import flax.linen as nn
import jax
import jraph

from latpred.spaces import graphs as graphs_lib


class DGF(nn.Module):
  """Dense graph flow: gate(E) * (A_hat H W) + H W + b, gate = sigmoid(linear(E))."""

  features: int
  predecessors: Optional[tuple] = None  # graphs.predecessors of a from_ops template batch

  @nn.compact
  def __call__(self, h, gate_in, senders, receivers):
    hw = nn.Dense(self.features)(h)
    if self.predecessors is None:
      msg = jax.ops.segment_sum(hw[senders], receivers, num_segments=h.shape[0])
    else:
      msg = graphs_lib.sum_from_predecessors(hw, self.predecessors)
    gate = nn.sigmoid(nn.Dense(self.features, name="gate")(gate_in))
    return gate * msg + hw


class GAT(nn.Module):
  """Attention over real predecessors (segment softmax), gated like DGF, then LayerNorm."""

  features: int

  @nn.compact
  def __call__(self, h, gate_in, senders, receivers):
    hw = nn.Dense(self.features)(h)
    logit_src = nn.Dense(1, use_bias=False, name="att_src")(hw)[:, 0]
    logit_dst = nn.Dense(1, use_bias=False, name="att_dst")(hw)[:, 0]
    logits = nn.leaky_relu(logit_src[senders] + logit_dst[receivers], 0.2)
    alpha = jraph.segment_softmax(logits, receivers, num_segments=h.shape[0])
    msg = jax.ops.segment_sum(alpha[:, None] * hw[senders], receivers, num_segments=h.shape[0])
    gate = nn.sigmoid(nn.Dense(self.features, name="gate")(gate_in))
    return nn.LayerNorm()(gate * msg + hw)


class GraphLayer(nn.Module):
  """One layer of the configured type: 'dgf', 'gat', or 'ensemble' (their mean)."""

  features: int
  kind: str = "ensemble"
  predecessors: Optional[tuple] = None  # for DGF: see the module docstring

  @nn.compact
  def __call__(self, h, gate_in, senders, receivers):
    if self.kind == "dgf":
      return DGF(self.features, self.predecessors)(h, gate_in, senders, receivers)
    if self.kind == "gat":
      return GAT(self.features)(h, gate_in, senders, receivers)
    if self.kind == "ensemble":
      return 0.5 * (DGF(self.features, self.predecessors)(h, gate_in, senders, receivers) +
                    GAT(self.features)(h, gate_in, senders, receivers))
    raise ValueError(f"unknown layer type {self.kind!r}; valid: dgf, gat, ensemble")


class MLP(nn.Module):
  """Dense-ReLU(-dropout) stack; the last layer has no activation if `activate_last` is False."""

  dims: tuple
  dropout: float = 0.0
  activate_last: bool = True

  @nn.compact
  def __call__(self, x, train: bool = False):
    for i, d in enumerate(self.dims):
      x = nn.Dense(d)(x)
      if i < len(self.dims) - 1 or self.activate_last:
        x = nn.relu(x)
        if self.dropout:
          x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return x
