"""Synthetic training devices: random non-negative mixes of unit-free columns."""

import numpy as np
import pytest

from latpred.train import synthetic


def _columns():
  rng = np.random.default_rng(0)
  return np.stack([rng.uniform(1, 2, 50), 1000 * rng.uniform(1, 3, 50), rng.integers(1, 9, 50)])


def test_mixes_are_seeded_nonnegative_and_unit_free():
  cols = _columns()
  a = synthetic.mix_latency(cols, 6, seed=(3, 1))
  assert a.shape == (6, 50) and a.dtype == np.float32 and (a > 0).all()
  np.testing.assert_array_equal(a, synthetic.mix_latency(cols, 6, seed=(3, 1)))
  assert not np.allclose(a, synthetic.mix_latency(cols, 6, seed=(4, 1)))
  # Each device's weights sum to 1 over columns scaled to mean 1, so its mean over the
  # architectures is 1 whatever the columns' units (the second is 1000x the first).
  np.testing.assert_allclose(a.mean(1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(synthetic.mix_latency(cols * [[1], [1e-3], [5]], 6, (3, 1)), a,
                             rtol=1e-5)


def test_a_small_concentration_draws_single_columns():
  cols = _columns()
  a = synthetic.mix_latency(cols, 20, seed=0, concentration=1e-3)
  scaled = cols / cols.mean(1, keepdims=True)
  nearest = [min(np.abs(row - c).max() for c in scaled) for row in a]
  assert np.median(nearest) < 1e-5 and max(nearest) < 0.01
  assert synthetic.mix_latency(cols, 0, seed=0).shape == (0, 50)


@pytest.mark.parametrize("cols, num, match", [
    (np.ones(5), 2, r"\[C, A\]"),
    (np.ones((2, 5)), -1, ">= 0"),
    (-np.ones((2, 5)), 2, "non-negative"),
    (np.array([[1.0, 2.0], [0.0, 0.0]]), 2, r"columns \[1\] are all zero"),
])
def test_bad_columns_are_refused(cols, num, match):
  with pytest.raises(ValueError, match=match):
    synthetic.mix_latency(cols, num, seed=0)


def test_rows_after_the_table_are_named_synthetic():
  names = ("pixel3", "fpga")
  assert [synthetic.row_name(names, r) for r in range(4)] == ["pixel3", "fpga", "synthetic_0",
                                                               "synthetic_1"]
  assert [synthetic.row_index(names, n) for n in ("fpga", "synthetic_1")] == [1, 3]
  for bad in ("raspi4", "synthetic_x"):
    with pytest.raises(KeyError, match="synthetic_<j>"):
      synthetic.row_index(names, bad)
