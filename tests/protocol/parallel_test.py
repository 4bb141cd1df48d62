"""Runs sharded over simulated devices: eight CPU devices in a subprocess (the device count is
fixed when JAX starts), and two processes joined by jax.distributed."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

_EIGHT_DEVICES = r"""
import collections, json, logging, re, sys, jax
from configs import nasflat
from latpred.protocol import runner
assert jax.device_count() == 8, jax.devices()
compiled = collections.Counter()  # (function, argument shapes) -> compilations

class Count(logging.Handler):
  def emit(self, record):
    found = re.match(r"Compiling (\S+) with global shapes and types (.*?)\. Argument mapping",
                     record.getMessage(), re.S)
    if found:
      compiled[found.group(1), re.sub(r"Sharding\(.*?\)", "", found.group(2))] += 1

logging.getLogger("jax").addHandler(Count())
c = nasflat.get_config("smoke")
c.data.data_dir = sys.argv[1]
c.data.space, c.data.train_hw, c.data.test_hw = "nb201", "pixel3,gold_6226", "fpga,1080ti_1"
c.num_trials = 1  # parallel.devices: -1, the default (all 8)
with jax.log_compiles(True):
  r = runner.run(c, sys.argv[2])
twice = sorted({name for (name, _), n in compiled.items() if n > 1})
print("RESULT" + json.dumps({"parallel": r["parallel"], "per_device": r["per_device"],
                             "compiled_twice": twice,
                             "epoch_programs": sum(n for (name, _), n in compiled.items()
                                                   if name == "jit(train_epoch_runs)")}))
"""


def _env(**extra):
  env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", **extra)
  env.pop("XLA_FLAGS", None)
  env.update(extra)
  return env


def _result(proc) -> dict:
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][-1]
  return json.loads(line[len("RESULT"):])


@pytest.fixture(scope="module")
def one_device_run(smoke_config, tmp_path_factory) -> dict:
  """`runner.run` of the smoke NB201 task (pixel3, gold_6226 -> fpga, 1080ti_1; 1 trial) in
  this process, on its one CPU device: the reference of both tests below."""
  from latpred.protocol import runner
  config = smoke_config(space="nb201", train_hw="pixel3,gold_6226", test_hw="fpga,1080ti_1")
  config.num_trials = 1
  result = runner.run(config, tmp_path_factory.mktemp("one_device"))
  assert result["parallel"]["device_count"] == 1
  return result


def test_eight_devices_give_a_one_device_runs_spearman(data_dir, tmp_path, one_device_run):
  proc = subprocess.run(
      [sys.executable, "-c", _EIGHT_DEVICES, str(data_dir), str(tmp_path)], capture_output=True,
      text=True, timeout=900, cwd=ROOT,
      env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=8"))
  out = _result(proc)
  assert out["parallel"] == {"process_count": 1, "device_count": 8, "platform": "cpu"}
  one, eight = one_device_run["per_device"], out["per_device"]
  assert set(one) == set(eight) == {"fpga", "1080ti_1"}
  for hw in one:
    assert abs(one[hw]["spearman_mean"] - eight[hw]["spearman_mean"]) < 1e-3, (hw, one, eight)
  # each program once per shape: the first epoch's inputs are laid out like the later epochs'
  # (the optimizer state was on one device: every epoch program compiled twice)
  assert out["compiled_twice"] == [], out["compiled_twice"]
  assert out["epoch_programs"] == 3  # pretraining, a target's fine-tunes (8), its folds' (4)


_TWO_PROCESSES = r"""
import json, sys, jax
from latpred.train import mesh
mesh.initialize(sys.argv[3], 2, int(sys.argv[4]))
from configs import nasflat
from latpred.protocol import benchmark, runner
assert (jax.process_count(), jax.device_count(), jax.local_device_count()) == (2, 4, 2)
c = nasflat.get_config("smoke")
c.data.data_dir = sys.argv[1]
c.data.space, c.data.train_hw, c.data.test_hw = "nb201", "pixel3,gold_6226", "fpga,1080ti_1"
c.num_trials = 1
task = runner.run(c, f"{sys.argv[2]}/task")
c.data.space, c.data.train_hw, c.data.test_hw = "", "", ""
bench = benchmark.run(c, f"{sys.argv[2]}/bench", ["flops", "stack_only"], ["FD", "F1"], [5],
                      progress=lambda *_: None)
if jax.process_index() == 0:
  print("RESULT" + json.dumps({"task": task, "bench": bench}))
"""


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_give_one_process_tables(data_dir, tmp_path, smoke_config,
                                               one_device_run):
  from latpred.protocol import benchmark
  address = f"127.0.0.1:{_free_port()}"
  env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
  procs = [subprocess.Popen([sys.executable, "-c", _TWO_PROCESSES, str(data_dir),
                             str(tmp_path / "two"), address, str(i)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
           for i in range(2)]
  outs = [p.communicate(timeout=900) for p in procs]
  for p, (out, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  two = json.loads([x for x in outs[0][0].splitlines() if x.startswith("RESULT")][-1][6:])
  assert not any(x.startswith("RESULT") for x in outs[1][0].splitlines())  # process 0 reports
  assert two["task"]["parallel"] == {"process_count": 2, "device_count": 4, "platform": "cpu"}
  assert (tmp_path / "two" / "task" / "results.json").exists()

  for hw, row in one_device_run["per_device"].items():
    assert abs(row["spearman_mean"] - two["task"]["per_device"][hw]["spearman_mean"]) < 1e-3
  config = smoke_config()
  config.num_trials = 1
  bench = benchmark.run(config, tmp_path / "one" / "bench", ["flops", "stack_only"],
                        ["FD", "F1"], [5], progress=lambda *_: None)
  strip = lambda runs: [{k: v for k, v in r.items() if k not in ("run_wall_s", "wall_time_s")}
                        for r in runs]
  assert strip(json.loads(json.dumps(bench))) == strip(two["bench"])
  assert (tmp_path / "two" / "bench" / "benchmark.md").exists()


def test_a_second_target_compiles_nothing(smoke_config, tmp_path, count_compiles):
  """The hot path: after the first target of a trial, the next one reuses every program
  (fine-tune epochs, cross-fitting folds, prediction)."""
  from latpred.model import build
  from latpred.protocol import runner, tasks
  config = smoke_config(space="nb201", train_hw="pixel3,gold_6226", test_hw="fpga,1080ti_1")
  task = tasks.custom_task("nb201", ["pixel3", "gold_6226"], ["fpga", "1080ti_1"])
  s = build.make_setup(config, task.space, task.train_hw)
  members = [build.init_params(s.model, s.space, s.supp, k) for k in range(2)]
  basis = runner.stack_basis(s)
  runner.evaluate_target(s, members, 0, "fpga", basis)
  with count_compiles() as compiles:
    runner.evaluate_target(s, members, 0, "1080ti_1", basis)
  assert compiles == []
