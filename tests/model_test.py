"""Predictor, vmapped step, transfer, and an end-to-end smoke run on a small real slice."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from latpred import graphs, stacking, transfer
from latpred.data import load_latency_table
from latpred.models.predictor import Predictor
from latpred.spaces import load_space
from latpred.train import loop, steps


@pytest.fixture(scope="module")
def setup(data_dir):
  space = load_space("nb201", data_dir)
  table = load_latency_table("nb201", data_dir)
  model = Predictor(num_node_types=len(space.node_types), num_hw=table.num_hw, width=16,
                    op_dim=8, head_dims=(16,), supp_dims=(8,), dropout=0.0)
  supp = np.random.default_rng(0).random((space.num_archs, 3)).astype(np.float32)
  g = graphs.batch(space.graph_set, np.arange(4), 4)
  params = model.init({"params": jax.random.PRNGKey(0)}, g, 0, supp[:5])
  return space, table, model, supp, params


def test_padding_does_not_change_predictions(setup):
  space, _, model, supp, params = setup
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
def test_switches_run(setup, placement, layer):
  space, table, _, supp, _ = setup
  model = Predictor(num_node_types=len(space.node_types), num_hw=table.num_hw, width=8,
                    op_dim=4, head_dims=(8,), hw_placement=placement, layer_type=layer,
                    first_pass_layers=0 if layer == "dgf" else 2, additive_readout=False)
  g = graphs.batch(space.graph_set, np.arange(4), 4)
  p = model.init({"params": jax.random.PRNGKey(0)}, g, 1, None)
  assert model.apply(p, g, 1, None).shape == (5,)


def test_vmapped_loss_equals_per_device_loop(setup):
  space, table, model, supp, params = setup
  idx = np.arange(8)
  g = graphs.batch(space.graph_set, idx, 8)
  s = np.zeros((9, 3), np.float32)
  s[:8] = supp[idx]
  hw = np.array([0, 4, 9], np.int32)
  lat = np.zeros((3, 9), np.float32)
  lat[:, :8] = table.latency_ms_HxA[hw][:, idx]
  rng = jax.random.PRNGKey(3)
  vmapped = steps.batch_loss(params, model, g, s, hw, lat, rng)
  keys = jax.random.split(rng, 3)
  loop = np.mean([steps.per_hw_loss(params, model, g, s, hw[k], lat[k], keys[k])
                  for k in range(3)])
  assert float(vmapped) == pytest.approx(float(loop), rel=1e-5)


def test_train_step_compiles_once_per_epoch(setup):
  space, table, model, supp, params = setup
  from latpred.train import loop
  before = steps.train_step._cache_size()
  loop.fit(model, params, space.graph_set, supp, [0, 1], table.latency_ms_HxA[[0, 1]],
           np.arange(40), epochs=2, batch_size=16, lr=1e-3, weight_decay=0.0, final_lr=1e-5,
           seed=0)
  assert steps.train_step._cache_size() - before == 1


def test_hw_row_copy_picks_most_correlated():
  rng = np.random.default_rng(0)
  target = rng.random(20)
  rows = np.stack([rng.random(20), target * 2 + 0.01 * rng.random(20), -target])
  assert transfer.most_correlated_hw(target, rows, [7, 3, 5]) == 3
  params = {"params": {"hw_table": jnp.arange(12.0).reshape(4, 3)}}
  new = transfer.copy_hw_row(params, 1, 3)
  np.testing.assert_array_equal(new["params"]["hw_table"][3], [3.0, 4.0, 5.0])
  np.testing.assert_array_equal(params["params"]["hw_table"][3], [9.0, 10.0, 11.0])


def test_end_to_end_smoke_and_resume(data_dir, tmp_path):
  import sys
  sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
  from configs import nasflat
  from latpred import runner
  config = nasflat.get_config("smoke")
  config.data_dir = str(data_dir)
  config.space, config.train_hw, config.test_hw = "nb201", "pixel3,gold_6226", "fpga,raspi4"
  results = runner.run(config, tmp_path)
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["task"] == "custom" and saved["test_hw"] == ["fpga", "raspi4"]
  for hw in ("fpga", "raspi4"):
    assert len(saved["per_device"][hw]["spearman"]) == 1
    assert -1 <= saved["per_device"][hw]["spearman_mean"] <= 1
    assert (tmp_path / f"scatter_{hw}.png").exists()
  assert (tmp_path / "pretrained").is_dir() and (tmp_path / "results.md").exists()
  # A rerun in the same workdir resumes: nothing is trained again, same numbers.
  again = runner.run(config, tmp_path)
  assert again["task_spearman_mean"] == results["task_spearman_mean"]
  rows = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
  assert len(rows) == 2
  for row in rows:  # the smoke config stacks: its weights name every column
    assert list(row["stack_weights"]) == ["gnn_ms", "pixel3", "gold_6226", "mflops", "mparams",
                                          "compute_ops"]
    assert min(row["stack_weights"].values()) >= 0 and -1 <= row["spearman_gnn"] <= 1

  # The checkpoint loads as an importable predictor; adaptation gives milliseconds.
  from latpred.predict import LatencyPredictor
  from latpred.data import load_latency_table
  predictor = LatencyPredictor.load(tmp_path / "pretrained", data_dir=data_dir)
  assert predictor.train_hw == ("pixel3", "gold_6226")
  table = load_latency_table("nb201", data_dir)
  archs = [predictor.space.arch_names[i] for i in range(0, 15625, 1000)]
  truth = table.latency_ms("fpga")[::1000]
  with pytest.raises(ValueError, match="adapt"):
    predictor.predict_ms(archs, "fpga")
  adapted = predictor.adapt("fpga", archs, truth)
  ms = adapted.predict_ms(archs, "fpga")
  assert ms.shape == (len(archs),) and np.all(np.isfinite(ms))
  assert abs(np.mean(ms) - np.mean(truth)) < 0.5 * np.mean(truth)
  with pytest.raises(KeyError, match="valid"):
    adapted.predict_scores(archs, "tpu")
  with pytest.raises(ValueError, match="positive"):
    predictor.adapt("fpga", archs[:3], [1.0, -2.0, 3.0])
  with pytest.raises(ValueError, match="training device"):
    predictor.adapt("pixel3", archs, truth)
  assert adapted.adapted["fpga"].stack is not None and len(adapted.members) == 2


def test_config_validation_lists_valid_choices():
  import sys
  sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
  from configs import nasflat
  from latpred import runner
  for field, bad, valid in (("layer_type", "gcn", "dgf, gat, ensemble"),
                            ("sampler", "best", "random"),
                            ("eval_set", "some", "paper_first128"),
                            ("supp_encoding", "zcp+nwot", "opcount")):
    config = nasflat.get_config()
    config[field] = bad
    with pytest.raises(ValueError, match=valid):
      runner.validate(config)
  config = nasflat.get_config()
  config.supp_encoding_nb201 = "zcp"
  with pytest.raises(ValueError, match="fbnet only"):
    runner.validate(config)
  config = nasflat.get_config()
  config.train_hw = "pixel3"
  with pytest.raises(ValueError, match="needs --config.space"):
    runner.resolve_task(config)


def test_adapted_ensemble_averages_members_in_ms_whatever_the_query(setup):
  space, table, model, supp, params = setup
  members = [params, jax.tree_util.tree_map(lambda x: 1.5 * x, params)]
  picks = np.arange(0, 15625, 1500)
  hw = table.hw_index("fpga")
  truth = table.latency_ms_HxA[hw]
  tune = transfer.FineTune(epochs=1, batch_size=4, lr=1e-3, weight_decay=0.0, final_lr=1e-6)
  ens = transfer.adapt_ensemble(model, members, space.graph_set, supp, hw, picks, truth[picks],
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
  ens = transfer.adapt_ensemble(model, members[:1], space.graph_set, supp, hw, picks,
                                truth[picks], [0, 1], table.latency_ms_HxA[[0, 1]], tune, seed=0,
                                stack_basis_AxK=basis, stack_folds=3)
  assert ens.stack is not None and np.all(ens.stack.weights >= 0)
  with pytest.raises(ValueError, match="stack_basis"):
    ens.predict_ms(model, space.graph_set, supp, picks)
  assert np.all(np.isfinite(ens.predict_ms(model, space.graph_set, supp, picks, basis)))
  # The vmapped fine-tune gives the same structure (full fit + 3 folds of 2 members).
  vm = transfer.adapt_ensemble(model, members, space.graph_set, supp, hw, picks, truth[picks],
                               [0, 1], table.latency_ms_HxA[[0, 1]],
                               dataclasses.replace(tune, vmapped=True), seed=0,
                               stack_basis_AxK=basis, stack_folds=3)
  assert len(vm.members) == 2 and vm.stack is not None and np.isfinite(vm.oof_ms).all()


def test_random_row_init_keeps_the_targets_own_row(setup):
  space, table, model, supp, params = setup
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


def test_fit_runs_trains_independent_runs_like_sequential_fits(setup):
  import scipy.stats
  space, table, model, supp, params = setup
  archs = [np.arange(0, 24), np.arange(24, 48)]
  kw = dict(epochs=3, batch_size=8, lr=1e-3, weight_decay=1e-5, final_lr=1e-6)
  seq = [loop.fit(model, params, space.graph_set, supp, [k], table.latency_ms_HxA[[k]], a,
                  seed=k, **kw)[0] for k, a in enumerate(archs)]
  vm = loop.fit_runs(model, [params, params], space.graph_set, supp, [[0], [1]],
                     [table.latency_ms_HxA[[0]], table.latency_ms_HxA[[1]]], archs,
                     seeds_K=[0, 1], **kw)
  every = np.arange(200)
  for k in range(2):
    a = loop.predict(model, seq[k], space.graph_set, supp, k, every)
    b = loop.predict(model, vm[k], space.graph_set, supp, k, every)
    assert scipy.stats.spearmanr(a, b).statistic > 0.95  # equal up to rounding amplified by Adam
  with pytest.raises(ValueError, match="one size"):
    loop.fit_runs(model, [params, params], space.graph_set, supp, [[0], [1]],
                  [table.latency_ms_HxA[[0]]] * 2, [np.arange(4), np.arange(5)], seeds_K=[0, 1],
                  **kw)
