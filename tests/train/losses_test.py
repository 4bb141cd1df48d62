import jax.numpy as jnp
import numpy as np
import pytest

from latpred.train.losses import pairwise_hinge, sample_pairs


def _all_pairs(n):
  i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
  return jnp.asarray(i.ravel()), jnp.asarray(j.ravel())


def test_hand_computed_with_ties_and_padding():
  scores = jnp.array([0.0, 0.05, 1.0, 9.0])
  targets = jnp.array([1.0, 2.0, 2.0, 0.0])
  mask = jnp.array([True, True, True, False])  # the last one is padding
  pi, pj = _all_pairs(4)
  # Valid ordered pairs among 0..2 with differing targets: (0,1),(1,0),(0,2),(2,0).
  # (0,1): sign -1 -> max(0, 0.1 + (0 - 0.05)) = 0.05; (1,0) the same; (0,2): 0.1 + (0 - 1) < 0
  # -> 0; (2,0) the same. Mean = 0.1 / 4.
  assert float(pairwise_hinge(scores, targets, mask, pi, pj)) == pytest.approx(0.025, abs=1e-7)


def test_all_equal_targets_give_zero():
  scores = jnp.array([3.0, -1.0, 2.0])
  pi, pj = _all_pairs(3)
  assert float(pairwise_hinge(scores, jnp.ones(3), jnp.ones(3, bool), pi, pj)) == 0.0


def test_correct_order_beyond_margin_is_free():
  scores = jnp.array([0.0, 1.0, 2.0])
  targets = jnp.array([1.0, 2.0, 3.0])
  pi, pj = _all_pairs(3)
  assert float(pairwise_hinge(scores, targets, jnp.ones(3, bool), pi, pj)) == 0.0
  assert float(pairwise_hinge(-scores, targets, jnp.ones(3, bool), pi, pj)) > 1.0


def test_sample_pairs_in_range():
  import jax
  pi, pj = sample_pairs(jax.random.PRNGKey(0), 5, 40)
  assert pi.shape == (40,) and int(pi.max()) < 5 and int(pj.min()) >= 0
