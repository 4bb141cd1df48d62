"""pretrain -> transfer -> evaluate end to end on a small real slice; resume that cannot lie."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from latpred.protocol import runner
from latpred.protocol.records import StaleResultsError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run_task(*args, data_dir):
  env = {**os.environ, "LATPRED_DATA_DIR": str(data_dir), "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, str(ROOT / "experiments" / "run_task.py"), *args],
                        capture_output=True, text=True, env=env, timeout=300)


def test_end_to_end_smoke_and_resume(smoke_config, data_dir, tmp_path):
  config = smoke_config(space="nb201", train_hw="pixel3,gold_6226", test_hw="fpga,raspi4")
  results = runner.run(config, tmp_path)
  saved = json.loads((tmp_path / "results.json").read_text())
  assert saved["task"] == "custom" and saved["test_hw"] == ["fpga", "raspi4"]
  for hw, floor in (("fpga", 0.9), ("raspi4", 0.7)):  # the stack's training-device columns
    assert len(saved["per_device"][hw]["spearman"]) == 1
    assert saved["per_device"][hw]["spearman_mean"] > floor
    assert (tmp_path / f"scatter_{hw}.png").exists()
  # NB201's 341 cells whose output is disconnected are also reported on their own (raspi4
  # measures them at ~0.1 ms).
  assert all(v["disconnected"]["count"] == 341 for v in saved["per_device"].values())
  assert (tmp_path / "pretrained").is_dir() and (tmp_path / "results.md").exists()
  # A rerun in the same workdir resumes: nothing is trained again, same numbers.
  again = runner.run(config, tmp_path)
  assert again["per_device"] == results["per_device"]
  rows = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
  assert len(rows) == 2
  for row in rows:  # the smoke config stacks: its weights name every column
    assert list(row["stack_weights"]) == ["gnn_ms", "pixel3", "gold_6226", "mflops", "mparams",
                                          "compute_ops", "kernels", "activations"]
    assert min(row["stack_weights"].values()) >= 0
    assert row["gnn"]["spearman"] != row["spearman"]  # the GNN alone, before the stack
    assert row["within_10pct"] >= row["within_5pct"] and row["median_ape_pct"] >= 0

  # Fewer trials than stored: the summary counts exactly the trials asked for.
  config.num_trials = 2
  two = runner.run(config, tmp_path)
  assert all(len(v["spearman"]) == 2 for v in two["per_device"].values())
  config.num_trials = 1
  one = runner.run(config, tmp_path)
  assert one["per_device"] == results["per_device"] and one["num_trials"] == 1

  # Other transfer settings in the same workdir: run_task.py refuses, naming the fields ...
  flags = ["--config=configs/nasflat.py:smoke", "--config.data.space=nb201",
           "--config.data.train_hw=pixel3,gold_6226", "--config.data.test_hw=fpga,raspi4",
           f"--workdir={tmp_path}"]
  out = _run_task(*flags, "--config.transfer.num_samples=5", "--config.transfer.sampler=random",
                  data_dir=data_dir)
  assert out.returncode != 0
  assert "transfer.num_samples" in out.stderr and "transfer.sampler" in out.stderr
  assert "--overwrite" in out.stderr
  assert json.loads((tmp_path / "results.json").read_text())["num_samples"] == 8  # untouched
  # ... a flat name of latpred <= 0.1 is refused with its new name ...
  out = _run_task(*flags, "--config.num_samples=5", data_dir=data_dir)
  assert out.returncode != 0 and "transfer.num_samples" in out.stderr
  # ... and --overwrite recomputes (the pretrained checkpoint still matches: it is reused).
  config.transfer.num_samples, config.transfer.sampler = 5, "random"
  new = runner.run(config, tmp_path, overwrite=True)
  assert new["num_samples"] == 5 and new["per_device"] != results["per_device"]
  assert new["wall_time_s"]["pretrain"] == results["wall_time_s"]["pretrain"]
  # Other pretraining settings: the checkpoint is not reused silently either.
  config.pretrain.epochs = 3
  with pytest.raises(StaleResultsError, match="pretrain.epochs"):
    runner.run(config, tmp_path)


def test_synthetic_devices_get_rows_after_the_table(smoke_config, tmp_path):
  """Pretraining ranks on the training devices and the trial's synthetic devices (own rows after
  the table's); a target may copy a synthetic row, in the runner and in LatencyPredictor.adapt,
  which draws them again from the seed the checkpoint records."""
  from latpred import LatencyPredictor
  from latpred.model import build
  from latpred.train import checkpoints
  train_hw = ["pixel3", "gold_6226"]
  config = smoke_config(space="nb201", train_hw=",".join(train_hw), test_hw="fpga")
  config.pretrain.synthetic_devices, config.transfer.copy_synthetic = 3, True
  config.pretrain.ensemble_size, config.transfer.stack = 1, False  # (time)
  s = build.make_setup(config, "nb201", train_hw)
  rows, latency = runner.pretrain_devices(s, trial=0)
  num_hw = s.table.num_hw
  assert rows.tolist() == [*s.train_ids, num_hw, num_hw + 1, num_hw + 2]
  assert latency.shape == (5, s.space.num_archs) and (latency >= 0).all()
  np.testing.assert_array_equal(latency, runner.pretrain_devices(s, 0)[1])
  assert not np.allclose(latency[2:], runner.pretrain_devices(s, 1)[1][2:])  # drawn per trial
  params = build.init_params(s.model, s.space, s.supp, 0)
  assert params["params"]["hw_table"].shape[0] == num_hw + 3
  row, _, _ = runner.evaluate_target(s, [params], 0, "fpga", runner.stack_basis(s))
  assert row["copied_hw_row"] in {*train_hw, *(f"synthetic_{j}" for j in range(3))}

  meta = runner.checkpoint_meta(s, "custom", train_hw)
  checkpoints.save(tmp_path / "pretrained", checkpoints.member_step(0, 0), params,
                   {**meta, "trial": 0, "member": 0,
                    "synthetic_seed": runner.synthetic_seed(config, 0)})
  p = LatencyPredictor.load(tmp_path / "pretrained")
  with_syn = p._with_synthetic(s.train_ids, s.table.latency_ms_HxA[s.train_ids])
  np.testing.assert_array_equal(with_syn[0], rows)
  np.testing.assert_array_equal(with_syn[1], latency)
  picks = np.arange(0, 800, 100)  # as many as the runner's target had: its programs again
  adapted = p.adapt("fpga", [s.space.arch_names[i] for i in picks],
                    s.table.latency_ms_HxA[s.table.hw_index("fpga"), picks])
  adapted.save_adapted(tmp_path / "adapted", "fpga")  # names the copied row; read back
  member, back = adapted.adapted["fpga"].members[0], LatencyPredictor.load(tmp_path / "adapted")
  assert (back.adapted["fpga"].members[0].source_hw, back.adapted["fpga"].members[0].scale_ms) \
      == (member.source_hw, member.scale_ms)


def test_a_custom_task_needs_a_space(smoke_config):
  config = smoke_config(train_hw="pixel3")
  with pytest.raises(ValueError, match="needs --config.data.space"):
    runner.resolve_task(config)
