import numpy as np
import pytest

from latpred.data import tables
from latpred.spaces import fbnet, load_space

ARCH0 = [7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5]


def test_parse_forms_agree():
  names = [fbnet.OPS[i] for i in ARCH0]
  for form in (ARCH0, names, fbnet.to_string(ARCH0), [str(i) for i in ARCH0]):
    np.testing.assert_array_equal(fbnet.parse(form), ARCH0)


@pytest.mark.parametrize("arch,message", [
    (ARCH0[:-1], "needs 22 layers"),
    (ARCH0[:-1] + [9], "outside 0..8"),
    ([fbnet.OPS[i] for i in ARCH0[:-1]] + ["k7_e6"], "unknown op 'k7_e6'"),
])
def test_malformed_archs(arch, message):
  with pytest.raises(ValueError, match=message):
    fbnet.parse(arch)


def test_chain_graph_keeps_every_layer():
  types, senders, receivers = fbnet.graph(ARCH0)
  assert len(types) == 24 and types[0] == 0 and types[-1] == 1
  assert [fbnet.NODE_TYPES[t] for t in types[1:-1]] == [fbnet.OPS[i] for i in ARCH0]
  assert list(zip(senders, receivers)) == [(i, i + 1) for i in range(23)]


def test_identity_graph():
  types, senders, receivers = fbnet.graph(ARCH0, "identity")
  assert len(types) == 22
  np.testing.assert_array_equal(senders, receivers)
  with pytest.raises(ValueError, match="chain, identity"):
    fbnet.graph(ARCH0, "dense")


def test_space_indexing_and_costs(data_dir):
  space = load_space("fbnet", data_dir)
  assert space.num_archs == 5000 and space.index_of(ARCH0) == 0
  zcp = tables.load_fbnet_zcp(data_dir)
  np.testing.assert_allclose(space.mflops_A * 1e6, zcp[:, tables.ZCP_NAMES.index("flops")])
  np.testing.assert_allclose(space.mparams_A * 1e6, zcp[:, tables.ZCP_NAMES.index("params")])
  with pytest.raises(ValueError, match="not among the 5000"):
    space.index_of([0] * 22)


def test_layer_costs_are_exact_and_feed_node_features(data_dir):
  space = load_space("fbnet", data_dir)
  ops = tables.load_fbnet_archs(data_dir)
  totals = np.stack([space.mflops_A, space.mparams_A], 1)
  costs = fbnet.layer_costs(ops, totals)
  assert costs.shape == (22, 9, 2) and np.all(costs[:, fbnet.SKIP] == 0)
  per_arch = costs[np.arange(22), ops].sum(1)  # [A, 2]
  fixed = totals - per_arch
  np.testing.assert_allclose(fixed, np.broadcast_to(fixed[0], fixed.shape), rtol=1e-9)
  feats = space.graph_set.node_feats_AxNxF
  assert feats.shape == (5000, 24, 8) and np.all(feats[:, [0, -1]] == 0)  # 4-7: physics
  assert np.abs(feats[..., :2]).max() == pytest.approx(1.0)
  # The linear columns sum to the architecture's FLOPs / params up to scale and shift.
  for col, total in ((2, space.mflops_A), (3, space.mparams_A)):
    sums = feats[..., col].sum(1)
    assert np.corrcoef(sums, total)[0, 1] == pytest.approx(1.0, abs=1e-6)


def test_layer_costs_refuse_non_additive_totals():
  rng = np.random.default_rng(0)
  ops = rng.integers(0, 9, size=(300, 22))
  with pytest.raises(ValueError, match="not additive"):
    fbnet.layer_costs(ops, rng.random((300, 1)))
