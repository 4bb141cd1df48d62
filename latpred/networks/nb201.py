"""NAS-Bench-201's CIFAR network for any cell, in flax (Dong & Yang, ICLR 2020).

3x3 stem convolution (16 channels) + BN; three stages of 5 cells at 16, 32 and 64 channels
(32x32, 16x16, 8x8 for a 32x32 input) joined by residual reduction blocks (ReLU-Conv-BN 3x3
stride 2, ReLU-Conv-BN 3x3; shortcut 2x2 average pool + 1x1 conv); BN + ReLU; global average
pool; a 100-way classifier. In a cell, node j sums op(i -> j)(node i) over i < j and node 3 is
the output; ops: none (zeros), skip_connect (identity), nor_conv_1x1 / nor_conv_3x3
(ReLU-Conv-BN) and avg_pool_3x3 (stride 1, padding 1, padding not averaged).
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from latpred.networks import layers
from latpred.spaces import nb201 as space

STAGE_CHANNELS = (16, 32, 64)
CELLS_PER_STAGE = 5
NUM_CLASSES = 100
INPUT_SIZE = 32


class ReLUConvBN(nn.Module):
  features: int
  kernel: int
  stride: int = 1

  @nn.compact
  def __call__(self, x):
    x = layers.relu(self, x)
    return layers.batch_norm(self, layers.conv(self, x, self.features, self.kernel, self.stride))


class Cell(nn.Module):
  ops: tuple[str, ...]  # six op names in edge order (latpred.spaces.nb201.EDGES)

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1]
    nodes = [x]
    for to_node in (1, 2, 3):
      total = jnp.zeros_like(x)
      for k, (src, dst) in enumerate(space.EDGES):
        if dst == to_node:
          total = layers.add(self, total, self._edge(k, self.ops[k], nodes[src], channels))
      nodes.append(total)
    return nodes[3]

  def _edge(self, k: int, op: str, x, channels: int):
    if op == "none":
      return layers.zero(self, x)
    if op == "skip_connect":
      return x
    if op == "avg_pool_3x3":
      return layers.avg_pool(self, x, 3, 1, 1)
    kernel = 1 if op == "nor_conv_1x1" else 3
    return ReLUConvBN(channels, kernel, name=f"edge_{k}")(x)


class ResidualReduction(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x):
    y = ReLUConvBN(self.features, 3, 2, name="conv_a")(x)
    y = ReLUConvBN(self.features, 3, 1, name="conv_b")(y)
    shortcut = layers.avg_pool(self, x, 2, 2, 0)
    shortcut = layers.conv(self, shortcut, self.features, 1, name="shortcut")
    return layers.add(self, y, shortcut)


class Network(nn.Module):
  """The network of one cell: images [B, 32, 32, 3] -> logits [B, 100]."""
  ops: tuple[str, ...]
  num_classes: int = NUM_CLASSES

  @nn.compact
  def __call__(self, x):
    x = layers.batch_norm(self, layers.conv(self, x, STAGE_CHANNELS[0], 3, name="stem"))
    for stage, channels in enumerate(STAGE_CHANNELS):
      if stage:
        x = ResidualReduction(channels, name=f"reduce_{stage}")(x)
      for i in range(CELLS_PER_STAGE):
        x = Cell(self.ops, name=f"cell_{stage}_{i}")(x)
    x = layers.relu(self, layers.batch_norm(self, x))
    return layers.dense(self, layers.global_pool(self, x), self.num_classes)


def network(arch: str | Sequence[str]) -> Network:
  """The network of a cell string or six op names (validated)."""
  ops = space.parse(arch) if isinstance(arch, str) else tuple(arch)
  space.to_string(ops)  # validates the op names
  return Network(tuple(ops))
