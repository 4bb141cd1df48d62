"""Correlations and millisecond errors on hand-computed cases."""

import numpy as np
import pytest

from latpred import metrics


def test_ms_errors_hand_computed():
  true = np.array([10.0, 10.0, 20.0, 40.0])
  pred = np.array([10.4, 11.0, 17.0, 40.0])  # errors 4 %, 10 %, 15 %, 0 %
  out = metrics.ms_errors(pred, true)
  assert out["mape_pct"] == pytest.approx((4 + 10 + 15 + 0) / 4)
  assert out["median_ape_pct"] == pytest.approx(7.0)
  assert out["within_5pct"] == pytest.approx(50.0)  # 4 % and 0 %
  assert out["within_10pct"] == pytest.approx(75.0)  # 10 % counts as within
  with pytest.raises(ValueError, match="positive"):
    metrics.ms_errors([1.0], [0.0])
  with pytest.raises(ValueError, match="equal-length"):
    metrics.ms_errors([1.0, 2.0], [1.0])


def test_evaluate_reports_disconnected_cells_separately():
  true = np.array([0.01, 0.02, 10.0, 20.0, 30.0])
  pred = np.array([9.0, 9.0, 10.0, 20.0, 30.0])  # the two near-zero cells predicted at 9 ms
  out = metrics.evaluate(pred, true, disconnected=np.array([True, True, False, False, False]))
  assert out["within_10pct"] == pytest.approx(60.0)  # they stay in the overall metrics
  assert out["disconnected"]["count"] == 2
  assert out["disconnected"]["within_10pct"] == 0.0
  assert out["disconnected"]["median_ape_pct"] == pytest.approx((89900 + 44900) / 2)
  assert "disconnected" not in metrics.evaluate(pred, true, np.zeros(5, bool))
  assert out["spearman"] == pytest.approx(metrics.spearman(pred, true))


def test_spearman_with_ties():
  assert metrics.spearman([1, 1, 2, 3], [1, 1, 2, 3]) == pytest.approx(1.0)
  assert metrics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_a_constant_prediction_ranks_nothing_and_scores_zero():
  out = metrics.evaluate(np.full(4, 2.0), np.array([1.0, 2.0, 3.0, 4.0]))
  assert out["spearman"] == 0.0 and out["kendall"] == 0.0 and out["constant_prediction"]
  assert out["within_10pct"] == 25.0  # its milliseconds are still scored
  assert "constant_prediction" not in metrics.evaluate(np.arange(4.0) + 1, np.arange(4.0) + 1)


def test_rank_scores_set_the_ranking_and_ms_the_errors():
  true = np.array([1.0, 2.0, 3.0, 4.0])
  flipped_ms = np.array([4.0, 3.0, 2.0, 1.0])  # a line with negative slope through the scores
  out = metrics.evaluate(flipped_ms, true, rank_scores=np.array([10.0, 20.0, 30.0, 40.0]))
  assert out["spearman"] == pytest.approx(1.0)  # the method's own ranking
  assert out["within_10pct"] == 0.0  # its milliseconds
  with pytest.raises(ValueError, match="rank_scores"):
    metrics.evaluate(flipped_ms, true, rank_scores=np.ones(3))
