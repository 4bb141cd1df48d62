"""Each baseline under the runner's protocol, and its resume rule."""

import json

import pytest

from latpred.protocol import baseline_runner, benchmark, tasks
from latpred.protocol.records import StaleResultsError


@pytest.mark.parametrize("method", baseline_runner.METHODS)
def test_each_baseline_runs_on_a_real_slice(method, smoke_config, data_dir, tmp_path):
  config = smoke_config(space="fbnet", train_hw="pixel3,gold_6226,1080ti_1", test_hw="fpga")
  config.num_trials, config.transfer.num_samples = 2, 10
  res = baseline_runner.run(method, config, tmp_path / "m10")
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
  if method in baseline_runner.PRETRAINED:  # trained once per trial, reused at another m
    config.transfer.num_samples = 5
    again = baseline_runner.run(method, config, tmp_path / "m5")
    assert again["wall_time_s"]["pretrain"] == saved["wall_time_s"]["pretrain"]
    config.transfer.num_samples = 10
  if method == "help":
    assert "10 reference architectures" in saved["note"]
  again = baseline_runner.run(method, config, tmp_path / "m10")  # finished records read back
  assert again["per_device"] == saved["per_device"]
  with pytest.raises(ValueError, match="valid: flops"):
    baseline_runner.run("oracle", config, tmp_path)


def test_a_baseline_rerun_with_other_settings_refuses_or_recomputes(smoke_config, tmp_path):
  config = smoke_config(space="fbnet", train_hw="pixel3,gold_6226", test_hw="fpga,raspi4")
  config.transfer.num_samples = 10
  first = baseline_runner.run("ridge", config, tmp_path)
  config.transfer.num_samples, config.transfer.sampler = 5, "random"
  with pytest.raises(StaleResultsError, match="transfer.num_samples.*transfer.sampler|"
                     "transfer.sampler.*transfer.num_samples") as err:
    baseline_runner.run("ridge", config, tmp_path)
  assert "--overwrite" in str(err.value)
  assert json.loads((tmp_path / "results.json").read_text()) == first  # nothing written
  second = baseline_runner.run("ridge", config, tmp_path, overwrite=True)
  assert second["num_samples"] == 5 and second["config"]["transfer"]["sampler"] == "random"
  assert second["per_device"] != first["per_device"]
  rows = (tmp_path / "trials.jsonl").read_text().splitlines()
  assert len(rows) == 2 and all(json.loads(r)["signature"]["transfer"]["num_samples"] == 5
                                for r in rows)
  # The ceiling's per-task cache is signed too: another pretraining setting refuses.
  baseline_runner.run("ceiling", config, tmp_path / "c")
  config.pretrain.lr = 5e-3
  with pytest.raises(StaleResultsError, match="pretrain.lr"):
    baseline_runner.run("ceiling", config, tmp_path / "c2")
