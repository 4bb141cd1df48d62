"""Training-free baselines: the ridge fit."""

import numpy as np

from latpred.baselines import simple


def test_ridge_recovers_a_linear_relation_with_small_lambda():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(200, 3))
  y = 2.0 * x[:, 0] - x[:, 2] + 5.0
  pred = simple.ridge_fit_predict(x, np.arange(40), y[:40], lam=1e-8)
  np.testing.assert_allclose(pred, y, atol=1e-6)
