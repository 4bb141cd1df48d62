"""The adapted ensemble as a pure function of op ids: equal to the host path, jit / vmap /
grad, unmeasured networks as NaN, graphs gathered in jnp equal to graphs batched on the host."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from latpred.adapt import ensemble, pure, stacking, transfer
from latpred.data import load_latency_table
from latpred.model.predictor import Predictor
from latpred.spaces import physics
from latpred.predict import LatencyPredictor
from latpred.spaces import encodings, graphs, load_space
from latpred.train import loop


def _close(a, b, rtol=1e-4):
  np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol)


@pytest.mark.parametrize("space_name,variant", [("nb201", "full"), ("nb201", "pruned"),
                                                ("fbnet", "chain")])
def test_gathered_graphs_score_like_host_batches(space_name, variant, data_dir):
  space = load_space(space_name, data_dir, variant)
  model = Predictor(num_node_types=len(space.node_types), num_hw=2, width=16, op_dim=8,
                    head_dims=(16,), supp_dims=(8,), dropout=0.0, layer_type="gat")
  idx = np.array([5, 0, 77, 1234, 3])
  params = model.init({"params": jax.random.PRNGKey(1)}, graphs.batch(space.graph_set, idx, 5), 1)
  host = model.apply(params, graphs.batch(space.graph_set, idx, 5), 1)[:5]
  gathered = jax.jit(lambda i: model.apply(
      params, graphs.gather_batch(graphs.device_arrays(space.graph_set), i), 1))(idx)[:5]
  _close(gathered, host, 1e-5)


@pytest.fixture(scope="module")
def adapted_nb201(smoke_pretrained, data_dir):
  predictor = LatencyPredictor.load(smoke_pretrained, data_dir=data_dir)
  archs = list(range(0, 15625, 977))
  truth = load_latency_table("nb201", data_dir).latency_ms("fpga")[archs]
  return predictor.adapt("fpga", [predictor.space.arch_names[i] for i in archs], truth)


def test_pure_fn_equals_the_host_path_and_composes_with_jit_vmap_grad(adapted_nb201):
  p = adapted_nb201
  ens = p.adapted["fpga"]
  assert ens.stack is not None and len(ens.members) == 2
  idx = np.arange(0, p.space.num_archs, 977)
  host = ens.predict_ms(p.model, p.space.graph_set, p.supp_AxD, idx, p.stack_basis())
  fn, variables = p.predict_fn("fpga")
  ops = jnp.asarray(p.space.op_ids_AxS[idx])
  _close(jax.jit(fn)(variables, ops), host)
  _close(p.predict_ms_indices(idx, "fpga"), host)  # LatencyPredictor's one path
  two = jax.vmap(fn, in_axes=(None, 0))(variables, jnp.stack([ops[:8], ops[8:16]]))
  _close(two.reshape(-1), host[:16])
  grads = jax.grad(lambda v: fn(v, ops).mean())(variables)
  stack_grad = np.asarray(grads["stack"]["weights"])
  assert np.isfinite(stack_grad).all() and np.abs(stack_grad).sum() > 0
  leaves = jax.tree_util.tree_leaves(grads["params"])
  assert all(np.isfinite(x).all() for x in leaves) and sum(np.abs(x).sum() for x in leaves) > 0


def test_chunked_steps_give_the_one_step_values_and_gradients(adapted_nb201):
  p = adapted_nb201
  ops = jnp.asarray(p.space.op_ids_AxS[np.arange(0, p.space.num_archs, 977)])  # 16 rows
  whole, variables = p.predict_fn("fpga", chunk=0)
  steps, _ = p.predict_fn("fpga", chunk=3)  # 6 steps, the last padded with 2 rows
  _close(jax.jit(steps)(variables, ops), jax.jit(whole)(variables, ops), 1e-5)
  _close(jax.vmap(steps, in_axes=(None, 0))(variables, ops.reshape(2, 8, -1)).reshape(-1),
         whole(variables, ops), 1e-5)
  grad = [jax.grad(lambda v, f=f: f(v, ops).sum())(variables)["stack"]["weights"]
          for f in (steps, whole)]
  _close(grad[0], grad[1], 1e-4)
  with pytest.raises(ValueError, match="chunk must be >= 0"):
    p.predict_fn("fpga", chunk=-1)
  for bad in (ops[0], ops[:, :3]):  # one row without its batch axis; too few slots
    with pytest.raises(ValueError, match=r"need op ids \[B, "):
      steps(variables, bad)


def test_cache_batch_fills_a_cpu_step_and_leaves_accelerators_one_step():
  assert graphs.cache_batch(8, "cpu") == 256 and graphs.cache_batch(24, "cpu") == 64
  assert graphs.cache_batch(5000, "cpu") == 1
  assert graphs.cache_batch(8, "gpu") == 0 and graphs.cache_batch(8, "tpu") == 0
  with pytest.raises(ValueError, match="nodes_per_graph"):
    graphs.cache_batch(0, "cpu")


def test_fbnet_measured_networks_match_and_unmeasured_ones_use_the_surrogate(data_dir):
  space = load_space("fbnet", data_dir)
  supp = encodings.encoding(space, "zcp+flops_params", data_dir)
  table = load_latency_table("fbnet", data_dir)
  model = Predictor(num_node_types=len(space.node_types), num_hw=table.num_hw, width=16,
                    op_dim=8, head_dims=(16,), supp_dims=(8,), dropout=0.0)
  g = graphs.batch(space.graph_set, np.arange(4), 4)
  members = [transfer.Adapted(model.init({"params": jax.random.PRNGKey(k)}, g, 0, supp[:5]), 0,
                              (3.0 + k, 10.0), row) for k, row in enumerate((2, 5, 7))]
  train = table.hw_indices(["pixel3", "raspi4"])
  basis = stacking.basis(space, table.latency_ms_HxA[train])
  picks = np.arange(0, 5000, 250)
  ens = ensemble.AdaptedEnsemble(members)
  gnn = ens.gnn_ms(model, space.graph_set, supp, picks)
  ens.stack = stacking.fit(np.column_stack([gnn, basis[picks]]),
                           table.latency_ms("fpga")[picks])
  idx = np.arange(1, 5000, 331)
  host = ens.predict_ms(model, space.graph_set, supp, idx, basis)
  fn, variables = pure.ensemble_fn(model, space, supp, ens, basis)
  odd = np.stack([np.zeros(22, np.int32), np.full(22, 3, np.int32), space.op_ids_AxS[0]])
  odd[2, 4] = 9  # not an op id
  assert not (space.op_ids_AxS[None] == odd[:2, None]).all(2).any()  # two unmeasured networks
  queries = jnp.asarray(np.concatenate([space.op_ids_AxS[idx], odd]))
  ms = np.asarray(jax.jit(fn)(variables, queries))
  _close(ms[:-3], host)
  assert np.isfinite(ms[-3:-1]).all() and np.isnan(ms[-1])
  assert np.isnan(pure.ensemble_fn(model, space, supp, ens, basis, surrogate=False)[0](
      variables, odd)).all()
  # the surrogate of a measured network, fitted without it, is near its table inputs
  fit = np.setdiff1d(np.arange(5000), idx)
  weights = pure.surrogate_weights(space.op_ids_AxS, 9, basis[:, -3:], fit)
  exact = np.asarray(pure.onehot(space.op_ids_AxS[idx], 9)) @ weights  # FLOPs, params, ops
  _close(exact, basis[idx, -3:], 1e-3)
  with pytest.raises(ValueError, match="stack_basis"):
    pure.ensemble_fn(model, space, supp, ens)
  np.testing.assert_allclose(  # without a stack: the members' mean ms
      jax.jit(pure.ensemble_fn(model, space, supp, ensemble.AdaptedEnsemble(members))[0])(
          variables | {"stack": None}, space.op_ids_AxS[idx]),
      np.mean([a * loop.predict(model, m.params, space.graph_set, supp, m.hw_row, idx) + b
               for m in members for a, b in [m.scale_ms]], 0), rtol=1e-4)


def test_predict_ms_compiles_once_per_power_of_two_chunk(adapted_nb201, count_compiles):
  p = adapted_nb201
  p.predict_ms_indices(np.arange(16), "fpga")  # builds the function, compiles size 16
  with count_compiles() as compiles:
    p.predict_ms_indices(np.arange(100, 116), "fpga")  # 16: cached
    p.predict_ms_indices(np.arange(9), "fpga")  # padded to 16: cached
    p.predict_ms_indices(np.arange(5), "fpga")  # padded to 8: one compilation
    p.predict_ms_indices(np.arange(6, 13), "fpga")  # 8: cached
  assert len(compiles) == 1


def test_surrogate_is_exact_for_the_physics_columns(data_dir):
  """An unmeasured FBNet network's physics columns come from the one-hot surrogate; they are a
  sum of per-(layer, op) costs, so the surrogate reproduces them."""
  fb = load_space("fbnet", data_dir)
  num_ops = len(fb.ops)
  feats = physics.features("fbnet", fb.op_ids_AxS)
  w = pure.surrogate_weights(fb.op_ids_AxS, num_ops, feats)
  unmeasured = np.random.default_rng(3).integers(0, num_ops, (4, 22))
  got = np.asarray(pure.onehot(unmeasured, num_ops, np) @ w, np.float64)
  np.testing.assert_allclose(got, physics.features("fbnet", unmeasured), rtol=1e-4)
