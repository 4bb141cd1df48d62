"""Stacked transfer: the non-negative fit, the folds, cross-fitting, and the real-data columns."""

import numpy as np
import pytest

from latpred.adapt import stacking
from latpred.data import load_latency_table
from latpred.spaces import physics
from latpred.spaces import fbnet, load_space, nb201


def test_fit_recovers_nonnegative_mix_and_clips_negative_weights():
  rng = np.random.default_rng(0)
  x = rng.random((30, 3))
  y = 2.0 * x[:, 0] + 0.5 * x[:, 2] + 3.0
  st = stacking.fit(x, y)
  np.testing.assert_allclose(st.weights / st.scale, [2.0, 0.0, 0.5], atol=1e-6)
  assert st.intercept == pytest.approx(3.0, abs=1e-6)
  np.testing.assert_allclose(st.predict(x), y, atol=1e-6)
  # A column that only lowers latency gets weight 0, not a negative one.
  st = stacking.fit(x, x[:, 0] - 5.0 * x[:, 1])
  assert st.weights[1] == pytest.approx(0.0, abs=1e-9) and np.all(st.weights >= 0)


def test_fit_constant_column_gets_zero_weight_and_bad_input_is_refused():
  x = np.column_stack([np.arange(5.0), np.ones(5)])
  st = stacking.fit(x, 3.0 * np.arange(5.0) + 1.0)
  assert st.weights[1] == 0.0
  assert np.all(np.isfinite(st.predict(x)))
  with pytest.raises(ValueError, match="finite"):
    stacking.fit(np.array([[1.0], [np.nan]]), np.array([1.0, 2.0]))
  with pytest.raises(ValueError, match="m >= 2"):
    stacking.fit(np.ones((3, 2)), np.ones(2))


def test_relative_loss_weights_rows_by_inverse_latency():
  rng = np.random.default_rng(1)
  x = rng.random((25, 2)) + 0.1
  y = x @ [1.0, 3.0] + 0.2 + 0.3 * rng.random(25) * x[:, 1]  # misfit grows with latency
  rel = stacking.fit(x, y, "relative")
  assert rel.loss == "relative"
  # unconstrained weighted least squares gives the same answer here (its weights are positive)
  design = np.column_stack([x / rel.scale, np.ones(25)]) / y[:, None]
  want = np.linalg.lstsq(design, np.ones(25), rcond=None)[0]
  np.testing.assert_allclose(np.r_[rel.weights, rel.intercept], want, rtol=1e-6)
  absolute = stacking.fit(x, y)
  rel_err = lambda st: np.sum(((st.predict(x) - y) / y) ** 2)  # noqa: E731
  assert rel_err(rel) < rel_err(absolute)
  loo = stacking.loo_predictions(x, y, "relative")
  assert loo[0] == pytest.approx(stacking.fit(x[1:], y[1:], "relative").predict(x[:1])[0])
  with pytest.raises(ValueError, match="positive"):
    stacking.fit(x, y - 10.0, "relative")
  with pytest.raises(ValueError, match="unknown stack loss"):
    stacking.fit(x, y, "huber")


def test_folds_partition_and_are_seeded():
  folds = stacking.fold_ids(20, 5, seed=3)
  assert sorted(np.concatenate(folds).tolist()) == list(range(20))
  assert [len(f) for f in folds] == [4] * 5
  assert all((a == b).all() for a, b in zip(folds, stacking.fold_ids(20, 5, seed=3)))
  assert len(stacking.fold_ids(3, 5, seed=0)) == 3
  with pytest.raises(ValueError, match="2 folds"):
    stacking.fold_ids(10, 1, seed=0)


def test_out_of_fold_never_trains_on_the_held_out_positions():
  y = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0])
  seen = []

  def fit_predict(train):
    seen.append(set(train.tolist()))
    return y + 100.0 * len(seen)  # marks which call predicted each position

  oof = stacking.out_of_fold(fit_predict, len(y), num_folds=3, seed=0)
  for call, held in enumerate(stacking.fold_ids(6, 3, seed=0), start=1):
    np.testing.assert_allclose(oof[held], y[held] + 100.0 * call)
  for held, train in zip(stacking.fold_ids(6, 3, seed=0), seen):
    assert not train & set(held.tolist())
    assert len(train) == 4


def test_compute_ops_and_basis_on_real_spaces(data_dir):
  nb = load_space("nb201", data_dir)
  ops = stacking.compute_ops(nb)
  for i in (0, 100, 7000):
    cell = nb201.parse(nb.arch_names[i])
    assert ops[i] == sum(o not in ("none", "skip_connect") for o in cell)
  fb = load_space("fbnet", data_dir)
  ops = stacking.compute_ops(fb)
  for i in (0, 4999):
    assert ops[i] == sum(o != fbnet.SKIP for o in fbnet.parse(fb.arch_names[i]))
  table = load_latency_table("fbnet", data_dir)
  b = stacking.basis(fb, table.latency_ms_HxA[:4])
  assert b.shape == (fb.num_archs, 7)
  np.testing.assert_allclose(b[:, 0], table.latency_ms_HxA[0], rtol=1e-6)
  np.testing.assert_allclose(b[:, 4], fb.mflops_A)
  with_physics = stacking.basis(fb, table.latency_ms_HxA[:4], ("kernels", "activations"))
  np.testing.assert_array_equal(with_physics[:, :7], b)
  np.testing.assert_allclose(with_physics[:, 7:], physics.features("fbnet", fb.op_ids_AxS))
  assert stacking.basis_columns(["a"], ("kernels",)) == ["a", "mflops", "mparams",
                                                         "compute_ops", "kernels"]


def test_physics_spec_is_checked():
  assert stacking.physics_features("") == ()
  assert stacking.physics_features("kernels+activations") == ("kernels", "activations")
  for bad in ("kernel", "kernels+kernels", "flops"):
    with pytest.raises(ValueError, match="bad stack_physics"):
      stacking.physics_features(bad)
