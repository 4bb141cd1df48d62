"""The host loops' NaN check: once per epoch, naming the epoch and the first bad step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from latpred.train import loop


def test_a_non_finite_loss_names_its_epoch_and_first_bad_step(tiny_nb201):
  with pytest.raises(FloatingPointError, match="epoch 3, step 2"):
    loop.check_finite([jnp.float32(1.0), jnp.float32(2.0), jnp.float32(jnp.nan),
                       jnp.float32(jnp.inf)], 3)
  runs = loop.check_finite([jnp.ones(2), jnp.zeros(2)], 0)  # [steps, runs]
  assert runs.shape == (2, 2)
  space, table, model, supp, params = tiny_nb201
  broken = jax.tree_util.tree_map(lambda x: x * jnp.nan, params)
  with pytest.raises(FloatingPointError, match="epoch 0, step 0"):
    loop.fit(model, broken, space.graph_set, supp, [0], table.latency_ms_HxA[[0]], np.arange(64),
             epochs=1, batch_size=32, lr=1e-3, weight_decay=0.0, final_lr=0.0, seed=0)
