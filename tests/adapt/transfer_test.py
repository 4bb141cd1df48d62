"""Row copy, fine-tuning and ensembles on a small real slice."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from latpred.adapt import ensemble, stacking, transfer
from latpred.train import loop, mesh


def test_hw_row_copy_picks_most_correlated():
  rng = np.random.default_rng(0)
  target = rng.random(20)
  rows = np.stack([rng.random(20), target * 2 + 0.01 * rng.random(20), -target])
  assert transfer.most_correlated_hw(target, rows, [7, 3, 5]) == 3
  params = {"params": {"hw_table": jnp.arange(12.0).reshape(4, 3)}}
  new = transfer.copy_hw_row(params, 1, 3)
  np.testing.assert_array_equal(new["params"]["hw_table"][3], [3.0, 4.0, 5.0])
  np.testing.assert_array_equal(params["params"]["hw_table"][3], [9.0, 10.0, 11.0])


def test_adapted_ensemble_averages_members_in_ms_whatever_the_query(tiny_nb201):
  space, table, model, supp, params = tiny_nb201
  members = [params, jax.tree_util.tree_map(lambda x: 1.5 * x, params)]
  picks = np.arange(0, 15625, 1500)
  hw = table.hw_index("fpga")
  truth = table.latency_ms_HxA[hw]
  tune = transfer.FineTune(epochs=1, batch_size=4, lr=1e-3, weight_decay=0.0, final_lr=1e-6)
  ens = ensemble.adapt_ensemble(model, members, space.graph_set, supp, hw, picks, truth[picks],
                                [0, 1], table.latency_ms_HxA[[0, 1]], tune, seed=0)
  assert ens.stack is None and len(ens.members) == 2
  per_member = [a * loop.predict(model, m.params, space.graph_set, supp, hw, picks) + b
                for m in ens.members for a, b in [m.scale_ms]]
  both = ens.gnn_ms(model, space.graph_set, supp, picks)
  np.testing.assert_allclose(both, np.mean(per_member, 0), rtol=1e-5)
  alone = ens.gnn_ms(model, space.graph_set, supp, picks[:3])  # fewer archs queried
  np.testing.assert_allclose(alone, both[:3], rtol=1e-5)
  # With a stack basis the stack is fitted on the samples.
  basis = stacking.basis(space, table.latency_ms_HxA[[0, 1]])
  ens = ensemble.adapt_ensemble(model, members[:1], space.graph_set, supp, hw, picks,
                                truth[picks], [0, 1], table.latency_ms_HxA[[0, 1]], tune, seed=0,
                                stack_basis_AxK=basis, stack_folds=3)
  assert ens.stack is not None and np.all(ens.stack.weights >= 0)
  with pytest.raises(ValueError, match="stack_basis"):
    ens.predict_ms(model, space.graph_set, supp, picks)
  assert np.all(np.isfinite(ens.predict_ms(model, space.graph_set, supp, picks, basis)))
  # The vmapped fine-tune gives the same structure (full fit + 3 folds of 2 members).
  vm = ensemble.adapt_ensemble(model, members, space.graph_set, supp, hw, picks, truth[picks],
                               [0, 1], table.latency_ms_HxA[[0, 1]],
                               dataclasses.replace(tune, vmapped=True), seed=0,
                               stack_basis_AxK=basis, stack_folds=3)
  assert len(vm.members) == 2 and vm.stack is not None and np.isfinite(vm.oof_ms).all()


def test_random_row_init_keeps_the_targets_own_row(tiny_nb201):
  space, table, model, supp, params = tiny_nb201
  hw = table.hw_index("fpga")
  picks = np.arange(0, 15625, 1500)
  kw = dict(epochs=0, batch_size=4, lr=1e-3, weight_decay=0.0, final_lr=1e-6)
  lat = table.latency_ms_HxA
  copied = transfer.adapt(model, params, space.graph_set, supp, hw, picks, lat[hw, picks],
                          [0, 1], lat[[0, 1]], **kw)
  own = transfer.adapt(model, params, space.graph_set, supp, hw, picks, lat[hw, picks], [0, 1],
                       lat[[0, 1]], row_init="random", **kw)
  rows = params["params"]["hw_table"]
  np.testing.assert_array_equal(own.params["params"]["hw_table"][hw], rows[hw])
  np.testing.assert_array_equal(copied.params["params"]["hw_table"][hw],
                                rows[copied.source_hw])
  with pytest.raises(ValueError, match="no row of its own"):
    transfer.adapt(model, params, space.graph_set, supp, None, picks, lat[hw, picks], [0, 1],
                   lat[[0, 1]], row_init="random", **kw)


def test_a_target_and_its_folds_share_one_fine_tune_program(tiny_nb201, compiled_functions):
  """m = 20 in batches of 16: the full fit takes 2 steps per epoch and each fold (16 samples)
  one; the folds run padded to 2 steps, so the epoch program and the predict program compile
  once for the whole adaptation."""
  space, table, model, supp, params = tiny_nb201
  picks = np.arange(7, 15625, 781)[:20]
  hw = table.hw_index("fpga")
  tune = transfer.FineTune(epochs=2, batch_size=16, lr=1.234e-3, weight_decay=0.0,
                           final_lr=1e-6)  # an optimizer of its own: its epoch program is new
  basis = stacking.basis(space, table.latency_ms_HxA[[0, 1]])
  with compiled_functions() as names:
    ensemble.adapt_ensemble(model, [params], space.graph_set, supp, hw, picks,
                            table.latency_ms_HxA[hw, picks], [0, 1], table.latency_ms_HxA[[0, 1]],
                            tune, seed=0, stack_basis_AxK=basis, stack_folds=5)
  assert names.count("jit(train_epoch)") == 1, names
  assert names.count("jit(predict_step)") <= 1, names  # 0 if an earlier test compiled it


def test_fine_tunes_dispatched_from_two_threads_give_identical_results(tiny_nb201):
  space, table, model, supp, params = tiny_nb201
  members = [params, jax.tree_util.tree_map(lambda x: 0.5 * x, params)]
  picks = np.arange(3, 15625, 1100)
  hw = table.hw_index("fpga")
  lat = table.latency_ms_HxA
  tune = transfer.FineTune(epochs=2, batch_size=4, lr=1e-3, weight_decay=0.0, final_lr=1e-6)
  basis = stacking.basis(space, lat[[0, 1]])
  out = [ensemble.adapt_ensemble(model, members, space.graph_set, supp, hw, picks, lat[hw, picks],
                                 [0, 1], lat[[0, 1]], tune, seed=0, stack_basis_AxK=basis,
                                 stack_folds=3, placement=mesh.Runs(threads=threads))
         for threads in (1, 2)]
  for a, b in zip(out[0].members, out[1].members):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.params, b.params)
    assert a.scale_ms == b.scale_ms
  np.testing.assert_array_equal(out[0].oof_ms, out[1].oof_ms)
  np.testing.assert_array_equal(out[0].stack.weights, out[1].stack.weights)
