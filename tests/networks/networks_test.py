"""The flax networks: parameter counts and FLOPs against the data's, shapes, and bad input."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from latpred import networks
from latpred.apps import timing
from latpred.data import sources, tables
from latpred.networks import fbnet, flops, layers, nb201
from latpred.spaces import fbnet as fbnet_space
from latpred.spaces import load_space

_COSTLY = ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # none and skip cost nothing


def _count_nb201(ops):
  params, costs = layers.count(nb201.network(ops), (1, 32, 32, 3))
  return params / 1e6, flops.total(costs, "nb201") / 1e6


def test_nb201_params_and_flops_equal_the_data_for_every_cell(data_dir):
  """All 15,625 cells: a network's counts depend only on how many edges hold each costly op
  (84 classes); one traced network per class is compared with every cell of the class, and 12
  random cells are traced themselves to check that edge order and none/skip change nothing."""
  space = load_space("nb201", data_dir)
  ops = space.op_ids_AxS
  key = [tuple(int((row == nb201.space.OPS.index(op)).sum()) for op in _COSTLY) for row in ops]
  classes = collections.defaultdict(list)
  for i, k in enumerate(key):
    classes[k].append(i)
  assert len(classes) == 84
  for members in classes.values():
    params, mflops = _count_nb201([nb201.space.OPS[j] for j in ops[members[0]]])
    np.testing.assert_allclose(space.mparams_A[members], params, rtol=0, atol=1e-9)
    np.testing.assert_allclose(space.mflops_A[members], mflops, rtol=1e-12)
  for i in np.random.default_rng(0).choice(space.num_archs, 12, replace=False):
    params, mflops = _count_nb201(space.arch_names[i])
    assert (params, mflops) == pytest.approx((space.mparams_A[i], space.mflops_A[i]), rel=1e-12)


def test_fbnet_layer_costs_equal_the_data_on_the_cifar_network(data_dir):
  """Every (layer, op) FLOPs and parameter count of the 'cifar100' network equals the per-layer
  cost `spaces.fbnet.layer_costs` derives from the proxy file; the all-skip network equals its
  fixed part (the least-squares intercept)."""
  root = sources.ensure_files(tables.space_files("fbnet"), data_dir, download=False)
  archs, zcp = tables.load_fbnet_archs(root), tables.load_fbnet_zcp(root)
  totals = np.stack([zcp[:, tables.ZCP_NAMES.index(n)] for n in ("flops", "params")], axis=1)
  per_layer = fbnet_space.layer_costs(archs, totals)  # [22, 9, 2], skip = 0
  fixed = totals[0] - per_layer[np.arange(22), archs[0]].sum(0)

  def counts(op):
    params, costs = layers.count(fbnet.network([op] * 22, "cifar100"), (1, 32, 32, 3))
    by_layer = flops.per_layer(costs, "fbnet")
    return params, flops.total(costs, "fbnet"), [by_layer.get(f"layer_{i}", 0) for i in range(22)]

  skip_params, skip_flops, skip_layers = counts(fbnet_space.SKIP)
  np.testing.assert_allclose([skip_flops, skip_params], fixed, rtol=1e-9)
  for op in range(fbnet_space.SKIP):
    params, _, layer_flops = counts(op)
    np.testing.assert_allclose(np.subtract(layer_flops, skip_layers), per_layer[:, op, 0],
                               rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(params - skip_params, per_layer[:, op, 1].sum(), rtol=1e-9)


def test_fbnet_imagenet_layers_by_hand():
  """Layer 0 (16 -> 16 channels at 112x112) and layer 1 (16 -> 24, stride 2 to 56x56) of the
  ImageNet network, counted by hand (MACs + 2 per BN element + the counted ReLU)."""
  _, costs = layers.count(fbnet.network([0] * 22), (1, 224, 224, 3))
  by_layer = flops.per_layer(costs, "fbnet")
  layer0 = (16 * 16 + 9 * 16 + 16 * 16) * 112 ** 2 + (2 * 16 + 2 * 16 + 16) * 112 ** 2 \
      + 2 * 16 * 112 ** 2  # k3_e1: conv, bn1 + bn2 + relu2, bn3
  assert by_layer["layer_0"] == layer0
  layer1 = (16 * 16 + 2 * 16) * 112 ** 2 + (9 * 16 + 2 * 16 + 16 + 16 * 24 + 2 * 24) * 56 ** 2
  assert by_layer["layer_1"] == layer1
  params, _ = layers.count(fbnet.network([0] * 22), (1, 224, 224, 3))
  cifar_params, _ = layers.count(fbnet.network([0] * 22, "cifar100"), (1, 32, 32, 3))
  # the same layers; the header (1984 vs 1504 channels) and classifier differ
  head = lambda c, k: 352 * c + 2 * c + c * k + k  # noqa: E731
  assert params - cifar_params == head(1984, 1000) - head(1504, 100)


def test_networks_run_and_shuffle_like_the_reference():
  for space, arch, classes in (("nb201", "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|"
                                "nor_conv_1x1~1|none~2|", 100), ("fbnet", "_".join("1" * 22), 100)):
    model, shape = networks.build(space, arch, "cifar100")
    x = jnp.ones((2, *shape))
    y = jax.jit(model.apply)(timing.random_variables(model, x.shape), x)
    assert y.shape == (2, classes) and bool(jnp.isfinite(y).all())
  assert networks.build("fbnet", [8] * 22)[1] == (224, 224, 3)
  x = jnp.arange(6.0).reshape(1, 1, 1, 6)  # two groups [0 1 2 | 3 4 5] interleaved
  np.testing.assert_array_equal(layers.channel_shuffle(x, 2).ravel(), [0, 3, 1, 4, 2, 5])


@pytest.mark.parametrize("space, arch, resolution, message", [
    ("nb201", "|bogus~0|+|none~0|none~1|+|none~0|none~1|none~2|", "", "unknown op"),
    ("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "imagenet", "CIFAR one"),
    ("fbnet", [9] * 22, "", "outside 0..8"),
    ("fbnet", [0] * 21, "", "needs 22 layers"),
    ("fbnet", [0] * 22, "tiny", "unknown FBNet resolution"),
    ("darts", "x", "", "unknown search space"),
])
def test_bad_architectures_are_refused(space, arch, resolution, message):
  with pytest.raises(ValueError, match=message):
    networks.build(space, arch, resolution)
