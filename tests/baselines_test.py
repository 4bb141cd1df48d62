"""Training-free baselines: the ridge fit, and each method under the runner's protocol."""

import json
import pathlib
import sys

import numpy as np
import pytest

from latpred import baselines, benchmark, tasks

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from configs import nasflat  # noqa: E402


def test_ridge_recovers_a_linear_relation_with_small_lambda():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(200, 3))
  y = 2.0 * x[:, 0] - x[:, 2] + 5.0
  pred = baselines.ridge_fit_predict(x, np.arange(40), y[:40], lam=1e-8)
  np.testing.assert_allclose(pred, y, atol=1e-6)


@pytest.mark.parametrize("method", baselines.METHODS)
def test_each_baseline_runs_on_a_real_slice(method, data_dir, tmp_path):
  config = nasflat.get_config("smoke")
  config.data_dir, config.num_trials, config.num_samples = str(data_dir), 2, 10
  config.space, config.train_hw, config.test_hw = "fbnet", "pixel3,gold_6226,1080ti_1", "fpga"
  res = baselines.run(method, config, tmp_path / "m10")
  saved = json.loads((tmp_path / "m10" / "results.json").read_text())
  assert saved["method"] == method and saved["task"] == "custom"
  sp = saved["per_device"]["fpga"]["spearman"]
  assert len(sp) == 2 and all(-1 <= v <= 1 for v in sp)
  if method == "flops":
    task = tasks.custom_task("fbnet", ["pixel3"], ["fpga"])
    assert sp[0] == pytest.approx(benchmark.flops_srcc(task, data_dir))
  if method == "nearest":
    assert set(saved["per_device"]["fpga"]["copied_hw_row"]) <= {"pixel3", "gold_6226", "1080ti_1"}
  if method == "ridge":
    assert res["task_spearman_mean"] > 0.5  # FPGA latency follows the training devices closely
  if method == "ceiling":  # trained on 80 % of fpga's own architectures; cached for other m
    assert len((tmp_path / "ceiling_trials.jsonl").read_text().splitlines()) == 2
    assert res["task_spearman_mean"] > 0.8
  if method in baselines.PRETRAINED:  # trained once per trial, reused at another sample count
    config.num_samples = 5
    again = baselines.run(method, config, tmp_path / "m5")
    assert again["wall_time_s"]["pretrain"] == saved["wall_time_s"]["pretrain"]
    config.num_samples = 10
  if method == "help":
    assert "10 reference architectures" in saved["note"]
  assert baselines.run(method, config, tmp_path / "m10") == saved  # a finished run is read back
  with pytest.raises(ValueError, match="valid: flops"):
    baselines.run("oracle", config, tmp_path)


def test_onehot_encoding_marks_the_op_at_every_position(data_dir):
  from latpred import encodings
  from latpred.spaces import load_space
  space = load_space("nb201", data_dir)
  enc = encodings.encoding(space, "onehot")
  types = space.graph_set.node_types_AxN
  assert enc.shape == (space.num_archs, types.shape[1] * len(space.node_types))
  np.testing.assert_array_equal(enc.sum(1), types.shape[1])
  row = enc[123].reshape(types.shape[1], len(space.node_types))
  np.testing.assert_array_equal(row.argmax(1), types[123])


def test_benchmark_table_has_every_method_and_its_wall_time(data_dir, tmp_path):
  config = nasflat.get_config("smoke")
  config.data_dir = str(data_dir)
  runs = benchmark.run(config, tmp_path, ["flops", "ridge"], ["FD"], [5, 10],
                       progress=lambda *_: None)
  assert {(r["method"], r["num_samples"]) for r in runs} == {
      (m, k) for m in ("flops", "ridge") for k in (5, 10)}
  md = (tmp_path / "benchmark.md").read_text()
  assert "| FD | ridge |" in md and "| ridge |" in md and "| **all** |" in md
  assert (tmp_path / "srcc_vs_samples.png").exists()
  with pytest.raises(ValueError, match="unknown method"):
    benchmark.run(config, tmp_path, ["oracle"], ["FD"], [5])
