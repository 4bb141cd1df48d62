"""The predictor: padding does not change outputs; every switch runs."""

import jax
import numpy as np
import pytest

from latpred.model.predictor import Predictor
from latpred.spaces import graphs, load_space


def test_padding_does_not_change_predictions(tiny_nb201):
  space, _, model, supp, params = tiny_nb201
  idx = np.array([10, 20, 30])
  out = []
  for b in (3, 8):
    g = graphs.batch(space.graph_set, idx, b)
    s = np.zeros((b + 1, 3), np.float32)
    s[:3] = supp[idx]
    out.append(np.asarray(model.apply(params, g, 5, s))[:3])
  np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("placement,layer", [("opwise", "ensemble"), ("head", "gat"),
                                             ("opwise", "dgf")])
def test_switches_run(tiny_nb201, placement, layer):
  space, table, _, supp, _ = tiny_nb201
  model = Predictor(num_node_types=len(space.node_types), num_hw=table.num_hw, width=8,
                    op_dim=4, head_dims=(8,), hw_placement=placement, layer_type=layer,
                    first_pass_layers=0 if layer == "dgf" else 2, additive_readout=False)
  g = graphs.batch(space.graph_set, np.arange(4), 4)
  p = model.init({"params": jax.random.PRNGKey(0)}, g, 1, None)
  assert model.apply(p, g, 1, None).shape == (5,)


def test_node_physics_adds_its_features_and_a_device_weighted_term(tiny_nb201):
  space, table, _, _, _ = tiny_nb201
  g = graphs.batch(space.graph_set, np.arange(4), 4)
  kw = dict(num_node_types=len(space.node_types), num_hw=table.num_hw, width=8, op_dim=4,
            head_dims=(8,), first_pass_layers=0, layer_type="dgf")
  plain, phys = Predictor(**kw), Predictor(**kw, node_physics=True)
  p0 = plain.init({"params": jax.random.PRNGKey(0)}, g, 1, None)
  p1 = phys.init({"params": jax.random.PRNGKey(0)}, g, 1, None)
  assert "hw_linear_physics" in p1["params"] and "hw_linear_physics" not in p0["params"]
  assert phys.apply(p1, g, 1, None).shape == (5,)
  # the features reach the output: changing a node's physics columns changes the score
  feat = np.array(g.nodes["feat"])
  feat[:, 4:8] *= 2.0
  nodes = dict(g.nodes, feat=feat)
  moved = phys.apply(p1, g._replace(nodes=nodes), 1, None)
  assert not np.allclose(moved[:4], phys.apply(p1, g, 1, None)[:4])
  with pytest.raises(ValueError, match="node_physics"):
    bad = Predictor(**kw, node_physics=True, node_features=False, linear_cost=False)
    bad.init({"params": jax.random.PRNGKey(0)}, g, 1, None)


@pytest.mark.parametrize("space_name,layer", [("nb201", "dgf"), ("nb201", "ensemble"),
                                              ("fbnet", "dgf")])
def test_predecessor_gathers_score_like_the_edge_lists(data_dir, space_name, layer):
  space = load_space(space_name, data_dir, "")
  template = graphs.op_template(space.graph_set, space.op_ids_AxS, len(space.ops))
  g = graphs.from_ops(template, space.op_ids_AxS[[5, 0, 77, 1234]])
  model = Predictor(num_node_types=len(space.node_types), num_hw=2, width=16, op_dim=8,
                    head_dims=(16,), dropout=0.0, layer_type=layer)
  params = model.init({"params": jax.random.PRNGKey(1)}, g, 1)
  fast = model.clone(predecessors=graphs.predecessors(template))
  np.testing.assert_allclose(np.asarray(jax.jit(lambda p: fast.apply(p, g, 1))(params))[:4],
                             np.asarray(model.apply(params, g, 1))[:4], rtol=1e-5, atol=1e-6)
