"""Kernel launches and activation elements per architecture (latpred.networks.physics)."""

import numpy as np
import pytest

from latpred.networks import fbnet, layers, nb201
from latpred.networks import physics as traced
from latpred.spaces import physics
from latpred.spaces import fbnet as fbnet_space
from latpred.spaces import nb201 as nb201_space

KERNELS, ACTIVATIONS = 0, 1


def _traced(costs, keep) -> np.ndarray:
  kept = [c for c in costs if keep(c)]
  return np.array([len(kept), sum(c.count // c.fan_in for c in kept) / 1e6])


def test_fbnet_block_kernels_follow_the_block():
  t = physics.slot_costs("fbnet")[..., KERNELS]
  op = fbnet_space.OPS.index
  # layer 0 keeps 16 channels at stride 1: conv bn relu, dw conv bn relu, conv bn, residual add
  assert t[0, op("k3_e1")] == 9 and t[0, op("k5_e6")] == 9
  assert t[0, op("k3_e1_g2")] == 10  # + the channel shuffle
  assert t[0, op("skip")] == 0  # the identity
  # layer 1 changes channels and strides: no residual; skip becomes conv bn relu
  assert t[1, op("k3_e1")] == 8 and t[1, op("skip")] == 3


def test_fbnet_features_equal_the_traced_network():
  """The per-(layer, op) table summed over an op list equals tracing that network itself."""
  rng = np.random.default_rng(0)
  ops = rng.integers(0, len(fbnet_space.OPS), (2, 22))
  got = physics.features("fbnet", ops)
  for row, want_row in zip(ops, got):
    _, costs = layers.count(fbnet.network(row), (1, 224, 224, 3))
    want = _traced(costs, lambda c: c.layer.startswith("layer_"))
    np.testing.assert_allclose(want_row, want, rtol=1e-12)


def test_nb201_features_equal_the_traced_cells():
  ops = np.array([[0, 1, 2, 3, 4, 2], [3, 3, 0, 4, 1, 1]])
  got = physics.features("nb201", ops)
  for row, want_row in zip(ops, got):
    _, costs = layers.count(nb201.network([nb201_space.OPS[j] for j in row]), (1, 32, 32, 3))
    want = _traced(costs, lambda c: c.layer.startswith("cell_") and c.kind != "add")
    np.testing.assert_allclose(want_row, want, rtol=1e-12)
  # a conv edge is relu + conv + bn in each of the 15 cells; skip launches nothing
  t = physics.slot_costs("nb201")[..., KERNELS]
  assert t[0, nb201_space.OPS.index("nor_conv_3x3")] == 45
  assert t[0, nb201_space.OPS.index("skip_connect")] == 0


def test_bad_input_is_refused():
  with pytest.raises(ValueError, match="must be \\[B, 22\\]"):
    physics.features("fbnet", np.zeros((2, 6), int))
  with pytest.raises(ValueError, match="must lie in"):
    physics.features("nb201", np.full((1, 6), 5))
  with pytest.raises(ValueError, match="unknown space"):
    physics.slot_costs("darts")
  with pytest.raises(ValueError, match="unknown space"):
    traced.trace("darts")


@pytest.mark.parametrize("space", ["nb201", "fbnet"])
def test_the_stored_table_is_the_traced_one(space):
  """slot_costs reads latpred/spaces/slot_costs.json; after a change to the networks this fails
  until the table is rewritten (python -m latpred.networks.physics)."""
  np.testing.assert_array_equal(physics.slot_costs(space), traced.trace(space))


@pytest.mark.parametrize("space_name", ["nb201", "fbnet"])
def test_node_physics_features_sum_to_the_architectures_counts(space_name, data_dir):
  """Columns 6-7 of the graphs' node features are each node's kernels and activations, scaled
  by one constant per column: summed over a graph they are proportional to `features`."""
  from latpred.spaces import load_space
  space = load_space(space_name, data_dir)
  feats = space.graph_set.node_feats_AxNxF
  assert feats.shape[2] == 8
  rows = np.arange(0, space.num_archs, 97)
  summed = feats[rows][:, :, 6:8].sum(1).astype(np.float64)
  want = physics.features(space_name, space.op_ids_AxS[rows])
  for k in range(2):
    live = want[:, k] > 0
    ratio = summed[live, k] / want[live, k]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
    np.testing.assert_array_equal(summed[~live, k], 0.0)
