"""Flax building blocks of the measured networks (NHWC), each recording its cost while traced.

Every block calls `_record` with the counts a FLOPs counter needs (multiply-accumulates of a
convolution or dense layer, elements a norm or activation touches, window x outputs of a pool),
per example. `count(model, shape)` traces the network abstractly (`jax.eval_shape`: nothing is
computed) and returns its parameter count and these records; `flops.py` turns the records into
FLOPs under the counting convention of each space's reference table.

Batch norm runs in inference mode (running statistics): the networks are built to be timed.
"""

import contextlib
import contextvars
import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BN_EPSILON = 1e-5


@dataclasses.dataclass(frozen=True)
class Cost:
  """One primitive of a traced network, per example."""
  kind: str  # conv | dense | bn | relu | avg_pool | global_pool | add | shuffle | zero
  layer: str  # name of the top-level submodule it belongs to ('' for the network's own layers)
  count: int  # conv/dense: multiply-accumulates; avg_pool: window x outputs; global_pool: input
  #             elements; the elementwise kinds (bn, relu, add, shuffle, zero): elements
  fan_in: int = 1  # inputs per output: conv/dense the MACs, avg_pool the window, global_pool the
  #                  pooled H*W (so count // fan_in is always the output elements)
  tag: str = ""  # a role a reference counter treats specially (see flops.py)


_RECORDS = contextvars.ContextVar("latpred_network_costs", default=None)


def _record(module: nn.Module, kind: str, count: int, fan_in: int = 1, tag: str = "") -> None:
  records = _RECORDS.get()
  if records is not None:
    path = module.scope.path
    records.append(Cost(kind, path[0] if path else "", int(count), int(fan_in), tag))


def _per_example(x) -> int:
  return int(np.prod(x.shape[1:]))


@contextlib.contextmanager
def _recording():
  records = []
  token = _RECORDS.set(records)
  try:
    yield records
  finally:
    _RECORDS.reset(token)


def count(model: nn.Module, input_shape) -> tuple[int, list[Cost]]:
  """(parameter count, cost records) of a network, traced abstractly at `input_shape` (NHWC)."""
  with _recording() as records:
    variables = jax.eval_shape(model.init, jax.random.key(0),
                               jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
  params = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables["params"]))
  return params, records


def conv(module: nn.Module, x, features: int, kernel: int, stride: int = 1, groups: int = 1,
         padding: int = -1, name=None):
  """kxk convolution without bias; padding (k - 1) // 2 unless given."""
  pad = (kernel - 1) // 2 if padding < 0 else padding
  y = nn.Conv(features, (kernel, kernel), (stride, stride), padding=((pad, pad), (pad, pad)),
              feature_group_count=groups, use_bias=False, name=name)(x)
  fan_in = kernel * kernel * x.shape[-1] // groups
  _record(module, "conv", fan_in * _per_example(y), fan_in)
  return y


def batch_norm(module: nn.Module, x, name=None):
  _record(module, "bn", _per_example(x))
  return nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, name=name)(x)


def relu(module: nn.Module, x, tag: str = ""):
  _record(module, "relu", _per_example(x), tag=tag)
  return nn.relu(x)


def avg_pool(module: nn.Module, x, window: int, stride: int, padding: int):
  """Average pool; padded positions are not counted in the mean (PyTorch's
  count_include_pad=False, as NB201's cells pool)."""
  pad = ((padding, padding), (padding, padding))
  y = nn.avg_pool(x, (window, window), (stride, stride), padding=pad, count_include_pad=False)
  _record(module, "avg_pool", window * window * _per_example(y), window * window)
  return y


def global_pool(module: nn.Module, x):
  """Mean over height and width: [B, H, W, C] -> [B, C]."""
  _record(module, "global_pool", _per_example(x), x.shape[1] * x.shape[2])
  return x.mean(axis=(1, 2))


def add(module: nn.Module, x, y):
  """x + y: a residual connection, or a term of a node's sum over its edges."""
  _record(module, "add", _per_example(x))
  return x + y


def channel_shuffle(x, groups: int):
  """Channel shuffle (channels last): channel g * (C / groups) + j moves to j * groups + g."""
  *lead, c = x.shape
  return x.reshape(*lead, groups, c // groups).swapaxes(-1, -2).reshape(*lead, c)


def shuffle(module: nn.Module, x, groups: int):
  """`channel_shuffle`, recorded."""
  _record(module, "shuffle", _per_example(x))
  return channel_shuffle(x, groups)


def zero(module: nn.Module, x):
  """The 'none' op as the reference networks run it (x * 0: a kernel, not a removed edge)."""
  _record(module, "zero", _per_example(x))
  return jnp.zeros_like(x)


def dense(module: nn.Module, x, features: int, name=None):
  _record(module, "dense", x.shape[-1] * features, x.shape[-1])
  return nn.Dense(features, name=name)(x)
