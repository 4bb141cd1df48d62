"""Scoring adapted predictions on a device's held-out measured rows beside the references."""

import numpy as np
import pytest

from latpred.apps import scoring
from latpred.apps.measurements import Measurements
from latpred.data import load_latency_table
from latpred.spaces import load_space


@pytest.fixture(scope="module")
def setup(data_dir):
  space, table = load_space("nb201", data_dir), load_latency_table("nb201", data_dir)
  truth = table.latency_ms("gold_6226").astype(np.float64)
  idx = np.arange(11, 15625, 373)[:40]
  measured = Measurements(idx, truth[idx], 40)
  used = Measurements(idx[:10], truth[idx[:10]], 10)
  train_hw = [h for h in table.hw_names if h != "gold_6226"]
  return space, table, truth, measured, used, train_hw


def test_scores_every_method_on_the_rows_adaptation_did_not_use(setup):
  space, table, truth, measured, used, train_hw = setup
  scores = scoring.score_device(space, table, train_hw, measured, used, truth)
  assert scores["rows"] == {"used": 10, "scored": 30}
  assert scores["adapted"]["spearman"] == pytest.approx(1.0)  # the truth as the prediction
  assert scores["adapted"]["within_10pct"] == 100.0 and scores["adapted"]["median_ape_pct"] == 0
  assert set(scores) == {"rows", "adapted", *scoring.REFERENCES}
  for method in scoring.REFERENCES:
    assert -1 <= scores[method]["spearman"] <= 1 and 0 <= scores[method]["within_10pct"] <= 100
  table_md = scoring.markdown(scores, "gold")
  assert "| adapted | 1.000 |" in table_md and "scored on 30 others" in table_md


def test_refuses_inconsistent_inputs(setup):
  space, table, truth, measured, used, train_hw = setup
  stranger = Measurements(np.array([3, 4, 5]), truth[[3, 4, 5]], 3)
  with pytest.raises(ValueError, match="must be among the measured rows"):
    scoring.score_device(space, table, train_hw, measured, stranger, truth)
  with pytest.raises(ValueError, match="need 3"):
    scoring.score_device(space, table, train_hw, used, used, truth)
  with pytest.raises(ValueError, match="a prediction per architecture"):
    scoring.score_device(space, table, train_hw, measured, used, truth[:100])
  with pytest.raises(KeyError, match="unknown nb201 device 'my_phone'"):
    scoring.score_device(space, table, ["my_phone"], measured, used, truth)


def test_agreement_of_two_measurements_separates_a_common_factor():
  first = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
  same = scoring.agreement(first, first * 1.2)  # the machine 20 % slower throughout
  assert same["spearman"] == pytest.approx(1.0) and same["median_ratio"] == pytest.approx(1.2)
  assert same["median_diff_pct"] == pytest.approx(20.0)
  assert same["median_diff_without_ratio_pct"] == pytest.approx(0.0, abs=1e-9)
  noisy = scoring.agreement(first, [1.1, 2.0, 2.7, 4.4, 5.0])
  assert noisy["median_diff_pct"] == pytest.approx(10.0) and noisy["n"] == 5
  assert noisy["p90_diff_pct"] == pytest.approx(10.0)
  with pytest.raises(ValueError, match="equal-length"):
    scoring.agreement(first, first[:4])
  with pytest.raises(ValueError, match="positive"):
    scoring.agreement(first, -first)
