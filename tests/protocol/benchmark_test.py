"""The benchmark: every (method, task, m) cell, its tables and plot."""

import pytest

from latpred.protocol import benchmark, launch


def test_benchmark_table_has_every_method_and_its_wall_time(smoke_config, tmp_path):
  config = smoke_config()
  runs = benchmark.run(config, tmp_path, ["flops", "ridge"], ["FD"], [5, 10],
                       progress=lambda *_: None)
  assert {(r["method"], r["num_samples"]) for r in runs} == {
      (m, k) for m in ("flops", "ridge") for k in (5, 10)}
  md = (tmp_path / "benchmark.md").read_text()
  assert "| FD | ridge |" in md and "| ridge |" in md and "| **all** |" in md
  assert "| **mean (paper tasks)** |" in md
  assert "## within ±10 % (%) at m = 10" in md and "exp of its log-latency" in md
  for name in ("spearman", "within_10pct", "median_ape_pct"):
    assert (tmp_path / f"{name}_vs_samples.png").exists()
  with pytest.raises(ValueError, match="unknown method"):
    benchmark.run(config, tmp_path, ["oracle"], ["FD"], [5])


def test_nasflat_gnn_comes_from_the_nasflat_runs(smoke_config, tmp_path):
  config = smoke_config()
  runs = benchmark.run(config, tmp_path, ["nasflat_gnn"], ["FD"], [8], progress=lambda *_: None,
                       task_trials={"FD": 1})
  assert [r["method"] for r in runs] == ["nasflat_gnn"]
  saved = __import__("json").loads((tmp_path / "nasflat" / "FD" / "m8" / "results.json")
                                   .read_text())
  assert runs[0]["per_device"] == saved["gnn"]["per_device"]
  assert runs[0]["task_spearman_mean"] == saved["gnn"]["task_spearman_mean"]
  with pytest.raises(ValueError, match="not run"):
    benchmark.run(config, tmp_path, ["flops"], ["FD"], [5], task_trials={"F1": 1})


def test_workers_compute_whole_tasks_and_the_tables_equal_one_process(smoke_config, tmp_path):
  config = smoke_config()
  lines = []
  args = (["flops", "stack_only"], ["FD", "F1"], [5])
  parallel = benchmark.run(config, tmp_path / "two", *args, progress=lines.append, workers=2)
  single = benchmark.run(config, tmp_path / "one", *args, progress=lambda *_: None)
  assert sorted(line for line in lines if line.startswith("task ")) == [
      "task F1: done", "task FD: done"]
  strip = lambda runs: [{k: v for k, v in r.items() if k not in ("run_wall_s", "wall_time_s")}
                        for r in runs]
  assert strip(parallel) == strip(single)
  md = (tmp_path / "two" / "benchmark.md").read_text()
  assert "| F1 | stack_only |" in md and "| FD | flops |" in md
  with pytest.raises(ValueError, match="workers"):
    benchmark.run(config, tmp_path, *args, workers=0)


def test_a_failed_worker_task_is_named_and_the_others_are_kept(smoke_config, tmp_path):
  config = smoke_config()
  benchmark.run(config, tmp_path, ["flops"], ["FD"], [5], progress=lambda *_: None)
  (tmp_path / "flops" / "FD" / "m5" / "trials.jsonl").write_text("not json\n")
  with pytest.raises(benchmark.TaskFailed, match="FD: ") as e:
    benchmark.run(config, tmp_path, ["flops"], ["FD", "F1"], [5], progress=lambda *_: None,
                  workers=2)
  assert "F1" not in str(e.value)
  assert (tmp_path / "flops" / "F1" / "m5" / "results.json").exists()


def test_a_worker_starts_as_the_launcher_did(smoke_config, tmp_path, monkeypatch):
  """A worker process caps malloc's arenas and uses the compilation cache it is handed (the
  launcher's: `launch.active_cache_dir()`), or none."""
  calls = []
  monkeypatch.setattr(launch, "limit_malloc_arenas", lambda: calls.append("arenas"))
  monkeypatch.setattr(launch, "enable_compilation_cache", calls.append)
  for cache in ("/some/cache", None):
    error = benchmark._task_worker(smoke_config(), str(tmp_path), ["flops"], "FD", [5], False,
                                   {}, cache)
    assert error == ""
  assert calls == ["arenas", "/some/cache", "arenas", "off"]
