"""The benchmark: every (method, task, m) cell, its tables and plot."""

import pytest

from latpred.protocol import benchmark


def test_benchmark_table_has_every_method_and_its_wall_time(smoke_config, tmp_path):
  config = smoke_config()
  runs = benchmark.run(config, tmp_path, ["flops", "ridge"], ["FD"], [5, 10],
                       progress=lambda *_: None)
  assert {(r["method"], r["num_samples"]) for r in runs} == {
      (m, k) for m in ("flops", "ridge") for k in (5, 10)}
  md = (tmp_path / "benchmark.md").read_text()
  assert "| FD | ridge |" in md and "| ridge |" in md and "| **all** |" in md
  assert (tmp_path / "srcc_vs_samples.png").exists()
  with pytest.raises(ValueError, match="unknown method"):
    benchmark.run(config, tmp_path, ["oracle"], ["FD"], [5])
