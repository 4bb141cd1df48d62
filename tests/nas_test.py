"""HELP's NAS protocol: the candidate rule on a hand example, and a smoke run on real data."""

import json
import pathlib
import sys

import numpy as np
import pytest

from latpred import nas, search
from latpred.data import tables

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from configs import nasflat  # noqa: E402


def test_first_k_choice_keeps_the_first_three_within_budget_in_order():
  predicted = [5.0, 1.0, 2.0, 9.0, 1.5, 0.5]
  accuracy = [99.0, 70.0, 60.0, 99.0, 65.0, 98.0]
  chosen, kept = search.first_k_choice(predicted, accuracy, budget_ms=2.0)
  assert kept == [1, 2, 4] and chosen == 1  # candidate 5 is fast and accurate but 4th in line
  assert search.first_k_choice(predicted, accuracy, budget_ms=0.1) == (None, [])


def test_metad2a_candidates_are_nb201_cells(data_dir):
  archs, acc = tables.load_metad2a_candidates(data_dir)
  assert len(archs) == 500 and acc.shape == (500,) and 60 < acc.max() < 80
  assert archs[0].startswith("|nor_conv_3x3~0|+")


def test_nas_smoke_run_writes_table_and_plot(data_dir, tmp_path):
  config = nasflat.get_config("smoke")
  config.data_dir = str(data_dir)
  rows = nas.run(config, tmp_path, devices=("fpga",), sample_counts=(6,), seeds=range(1),
                 log=lambda *_: None)
  assert [r["budget_ms"] for r in rows] == [4, 5, 6]
  for r in rows:
    assert r["measurements"] == 6 and r["adapt_s"] > 0
    if r["arch"] is not None:
      assert r["predicted_latency_ms"] <= r["budget_ms"] and len(r["kept"]) <= 3
      assert r["meets_budget"] == (r["true_latency_ms"] <= r["budget_ms"])
  assert json.loads((tmp_path / "nas.json").read_text()) == rows
  md = (tmp_path / "nas.md").read_text()
  assert "| fpga | 6 | 6 |" in md and "7.4 (over)" in md
  assert "5.94, 72.42" in md  # HELP's rule applied to fpga's measured latencies
  assert (tmp_path / "pareto_fpga.png").exists()
  with pytest.raises(ValueError, match="no budgets"):
    nas.run(config, tmp_path, devices=("raspi4",))


def test_safety_margin_is_the_quantile_of_relative_underestimates():
  measured = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
  loo = np.array([10.0, 8.0, 12.5, 5.0, 10.0])  # underestimates: 0, 0.25, -0.2, 1.0, 0
  assert nas.safety_margin(measured, loo, 0.0) == 0.0
  assert nas.safety_margin(measured, loo, 1.0) == pytest.approx(1.0)
  assert nas.safety_margin(measured, loo, 0.5) == pytest.approx(0.0)
  assert nas.safety_margin(measured, measured * 2, 0.9) == 0.0  # over-estimates: no margin
  with pytest.raises(ValueError, match="stacked"):
    nas.safety_margin(measured, np.full(5, np.nan), 0.9)


def test_rule_on_true_latency_is_met_by_construction(data_dir):
  oracle = nas.oracle_choices(data_dir)
  assert set(oracle) == {(hw, b) for hw, v in nas.HELP_RESULTS.items() for b, *_ in v}
  assert all(lat <= budget for (_, budget), (lat, _) in oracle.items())


def test_calibration_uses_tuning_devices_only_and_picks_a_grid_value(data_dir, tmp_path):
  config = nasflat.get_config("smoke")
  config.data_dir = str(data_dir)
  with pytest.raises(ValueError, match="NAS targets"):
    nas.calibrate(config, tmp_path, devices=("fpga",))
  budgets = nas.tuning_budgets(("titanx_1",), data_dir)["titanx_1"]
  assert len(budgets) == 3 and budgets == sorted(budgets)
  out = nas.calibrate(config, tmp_path, devices=("titanx_1",), sample_counts=(6,),
                      seeds=range(1), quantiles=(0.0, 1.0), log=lambda *_: None)
  assert out["chosen"][6] in (0.0, 1.0) and len(out["rows"]) == 2 * 3
  assert all(r["margin"] >= 0 for r in out["rows"])
  assert all(r["margin"] == 0 for r in out["rows"] if r["safety_quantile"] == 0.0)
  assert (tmp_path / "calibration.md").exists()
  rows = nas.run(config, tmp_path, devices=("fpga",), sample_counts=(6,), seeds=range(1),
                 safety_quantile={6: 1.0}, log=lambda *_: None)
  assert {r["safety_quantile"] for r in rows} == {1.0}
