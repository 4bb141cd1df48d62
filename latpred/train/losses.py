"""Pairwise hinge ranking loss (NASFLAT §5), comparing architectures on one device only."""

import jax
import jax.numpy as jnp


def sample_pairs(rng, batch_size: int, num_pairs: int):
  """`num_pairs` random (i, j) index pairs into a batch, int32 [P] each."""
  ki, kj = jax.random.split(rng)
  return (jax.random.randint(ki, (num_pairs,), 0, batch_size),
          jax.random.randint(kj, (num_pairs,), 0, batch_size))


def pairwise_hinge(scores_B, targets_B, mask_B, pair_i, pair_j, margin: float = 0.1):
  """mean over valid pairs of max(0, margin - sign(y_i - y_j) * (s_i - s_j)).

  A pair is valid when both members are real (`mask_B`) and their targets differ (ties carry no
  order). Returns 0 when no pair is valid.
  """
  sign = jnp.sign(targets_B[pair_i] - targets_B[pair_j])
  valid = (sign != 0) & mask_B[pair_i] & mask_B[pair_j]
  losses = jnp.maximum(0.0, margin - sign * (scores_B[pair_i] - scores_B[pair_j]))
  return jnp.sum(jnp.where(valid, losses, 0.0)) / jnp.maximum(jnp.sum(valid), 1)
