"""Each baseline under the runner's protocol, and its resume rule."""

import json

import numpy as np
import pytest

from latpred import metrics
from latpred.data import load_latency_table
from latpred.protocol import baseline_runner, benchmark, tasks
from latpred.protocol.records import StaleResultsError


@pytest.mark.parametrize("method", baseline_runner.METHODS)
def test_each_baseline_runs_on_a_real_slice(method, smoke_config, data_dir, tmp_path, request):
  if method == "supervised":
    request.getfixturevalue("optimized_xla")
  config = smoke_config(space="fbnet", train_hw="pixel3,gold_6226,1080ti_1", test_hw="fpga")
  config.num_trials, config.transfer.num_samples = 2, 10
  res = baseline_runner.run(method, config, tmp_path / "m10")
  saved = json.loads((tmp_path / "m10" / "results.json").read_text())
  assert saved["method"] == method and saved["task"] == "custom"
  sp = saved["per_device"]["fpga"]["spearman"]
  assert len(sp) == 2 and saved["per_device"]["fpga"]["spearman_mean"] == pytest.approx(
      np.mean(sp))
  table = load_latency_table("fbnet", data_dir)
  if method == "flops":  # its own ranking, whatever line maps it to ms
    task = tasks.custom_task("fbnet", ["pixel3"], ["fpga"])
    assert sp == pytest.approx([benchmark.flops_srcc(task, data_dir)] * 2)
  if method == "nearest":  # its ranking is the copied device's measured latency
    copied = saved["per_device"]["fpga"]["copied_hw_row"]
    assert set(copied) <= {"pixel3", "gold_6226", "1080ti_1"}
    for trial, hw in enumerate(copied):
      assert sp[trial] == pytest.approx(
          metrics.spearman(table.latency_ms(hw), table.latency_ms("fpga")))
  if method == "ridge":
    assert res["task_spearman_mean"] > 0.5  # FPGA latency follows the training devices closely
  if method == "supervised":  # fitted on 80 % of fpga's own architectures; cached for other m
    assert len((tmp_path / "supervised_trials.jsonl").read_text().splitlines()) == 2
    assert res["task_spearman_mean"] > 0.95 and res["task_within_10pct_mean"] > 80
  if method == "stack_only":  # the stack's weights name the GNN-free columns
    row = json.loads((tmp_path / "m10" / "trials.jsonl").read_text().splitlines()[0])
    assert list(row["stack_weights"]) == ["pixel3", "gold_6226", "1080ti_1", "mflops",
                                          "mparams", "compute_ops", "kernels", "activations"]
  assert saved["ms_from"] == baseline_runner.MS_FROM[method]
  for key in ("mape_pct", "median_ape_pct", "within_5pct", "within_10pct"):
    assert len(saved["per_device"]["fpga"][key]) == 2
  assert 0 <= saved["task_within_10pct_mean"] <= 100
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


def test_a_baseline_rerun_with_other_settings_refuses_or_recomputes(smoke_config, tmp_path,
                                                                    optimized_xla):
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
  # The supervised per-task cache is signed too: another pretraining setting refuses.
  baseline_runner.run("supervised", config, tmp_path / "c")
  config.pretrain.lr = 5e-3
  with pytest.raises(StaleResultsError, match="pretrain.lr"):
    baseline_runner.run("supervised", config, tmp_path / "c2")
