"""FBNet's 22-layer network for any op list, in flax (Wu et al., "FBNet", CVPR 2019), as HELP's
and HW-NAS-Bench's FBNet space builds it.

Stem: 3x3 conv (16 channels) + BN + ReLU. Seven stages of 1, 4, 4, 4, 4, 4, 1 searchable layers
with 16, 24, 32, 64, 112, 184, 352 channels; a stage's first layer takes its stride. Header: 1x1
conv + BN + ReLU, global average pool, classifier. A layer `k{k}_e{e}[_g2]` is an inverted
residual block: 1x1 conv to e*Cin channels (2 groups and a channel shuffle for `_g2`) + BN +
ReLU, kxk depthwise conv with the stride + BN + ReLU, 1x1 conv to Cout (2 groups for `_g2`) + BN,
plus the input where Cin == Cout and the stride is 1. `skip` is the identity, or 1x1 conv + BN +
ReLU where the stride or the channels change.

Resolutions (`RESOLUTIONS`): 'imagenet' (the paper's network: 224x224 input, stem stride 2,
stage strides 1 2 2 2 1 2 1, header 1984, 1000 classes) and 'cifar100' (32x32 input, stem stride
1, stage strides 1 1 2 2 1 2 1, header 1504, 100 classes), the network on which the NASFLAT
proxy file counted the FLOPs and parameters that latpred's FBNet costs come from.
"""

import dataclasses
from typing import Sequence

import flax.linen as nn

from latpred.networks import layers
from latpred.spaces import fbnet as space

STAGE_LAYERS = (1, 4, 4, 4, 4, 4, 1)
STAGE_CHANNELS = (16, 24, 32, 64, 112, 184, 352)
STEM_CHANNELS = 16


@dataclasses.dataclass(frozen=True)
class Resolution:
  input_size: int
  stem_stride: int
  stage_strides: tuple[int, ...]
  header_channels: int
  num_classes: int


RESOLUTIONS = {
    "imagenet": Resolution(224, 2, (1, 2, 2, 2, 1, 2, 1), 1984, 1000),
    "cifar100": Resolution(32, 1, (1, 1, 2, 2, 1, 2, 1), 1504, 100),
}


def _op_shape(op: str) -> tuple[int, int, int]:
  """(kernel, expansion, groups) of a block name such as 'k5_e1_g2'."""
  parts = op.split("_")
  return int(parts[0][1:]), int(parts[1][1:]), 2 if len(parts) == 3 else 1


class Block(nn.Module):
  op: str
  features: int
  stride: int

  @nn.compact
  def __call__(self, x):
    cin = x.shape[-1]
    if self.op == "skip":
      if self.stride == 1 and cin == self.features:
        return x
      y = layers.batch_norm(self, layers.conv(self, x, self.features, 1, self.stride))
      return layers.relu(self, y)
    kernel, expansion, groups = _op_shape(self.op)
    y = layers.conv(self, x, cin * expansion, 1, groups=groups)
    y = layers.relu(self, layers.batch_norm(self, y), tag="shared_relu_first")
    if groups > 1:
      y = layers.shuffle(self, y, groups)
    y = layers.conv(self, y, cin * expansion, kernel, self.stride, groups=cin * expansion,
                    padding=kernel // 2)
    y = layers.relu(self, layers.batch_norm(self, y))
    y = layers.batch_norm(self, layers.conv(self, y, self.features, 1, groups=groups))
    return layers.add(self, y, x) if cin == self.features and self.stride == 1 else y


def layer_plan(resolution: str = "imagenet") -> list[tuple[int, int]]:
  """(output channels, stride) of each of the 22 searchable layers."""
  res = RESOLUTIONS[resolution]
  return [(c, s if i == 0 else 1)
          for n, c, s in zip(STAGE_LAYERS, STAGE_CHANNELS, res.stage_strides) for i in range(n)]


class Network(nn.Module):
  """The network of one op list: images [B, S, S, 3] -> logits (S: the resolution's input)."""
  ops: tuple[str, ...]
  resolution: str = "imagenet"

  @nn.compact
  def __call__(self, x):
    res = RESOLUTIONS[self.resolution]
    x = layers.conv(self, x, STEM_CHANNELS, 3, res.stem_stride, name="stem")
    x = layers.relu(self, layers.batch_norm(self, x))
    for i, (op, (features, stride)) in enumerate(zip(self.ops, layer_plan(self.resolution))):
      x = Block(op, features, stride, name=f"layer_{i}")(x)
    x = layers.conv(self, x, res.header_channels, 1, name="header")
    x = layers.relu(self, layers.batch_norm(self, x))
    return layers.dense(self, layers.global_pool(self, x), res.num_classes)


def network(arch: str | Sequence, resolution: str = "imagenet") -> Network:
  """The network of an FBNet architecture (op ids, op names or an '_'-joined id string)."""
  if resolution not in RESOLUTIONS:
    raise ValueError(f"unknown FBNet resolution {resolution!r}; valid: {', '.join(RESOLUTIONS)}")
  return Network(tuple(space.OPS[i] for i in space.parse(arch)), resolution)
