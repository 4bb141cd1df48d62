"""MultiPredict-style baseline (issue 4): an MLP on a per-architecture encoding with a learnable
8-d device embedding, pretrained on the training devices and fine-tuned on the target, L1 loss.

Encoding: FBNet's 13 normalised zero-cost proxies; NB201's normalised log FLOPs/params plus the
one-hot op of every edge. Targets: log latency standardised per device (over the pretraining
architectures for training devices, over the m samples for the target). Transfer: the target's
embedding row is copied from the training device whose latencies on the samples correlate best
(Spearman), then every parameter is fine-tuned on the samples.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from latpred.adapt import transfer
from latpred.spaces import encodings

ENCODING = {"fbnet": "zcp", "nb201": "flops_params+onehot"}
HIDDEN = (200, 200, 200)
PRETRAIN_EPOCHS, PRETRAIN_BATCH, FINETUNE_STEPS, LR = 30, 256, 100, 1e-3
# One optimizer object for every fit: the jitted step takes it as a static argument, so a new
# object per fit would recompile the step each time.
_OPTIMIZER = optax.adamw(LR, weight_decay=1e-5)


class MLP(nn.Module):
  num_hw: int
  hw_dim: int = 8
  hidden: tuple = HIDDEN

  @nn.compact
  def __call__(self, x_BxD, hw_B):
    h = jnp.concatenate([x_BxD, nn.Embed(self.num_hw, self.hw_dim, name="hw_table")(hw_B)], -1)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width)(h))
    return nn.Dense(1)(h)[:, 0]


def _standardise(log_lat):
  sd = log_lat.std()
  return (log_lat - log_lat.mean()) / (sd if sd > 0 else 1.0)


def to_ms(pred, sample_latency_ms) -> np.ndarray:
  """Milliseconds from the fine-tune's label scale (log latency standardised over the samples):
  the inverse of that standardisation."""
  log_lat = np.log(np.asarray(sample_latency_ms, np.float64))
  sd = log_lat.std()
  return np.exp(np.asarray(pred, np.float64) * (sd if sd > 0 else 1.0) + log_lat.mean())


@functools.partial(jax.jit, static_argnums=(0, 1))
def _step(model, opt, params, state, x, hw, y):
  def loss(p):
    return jnp.mean(jnp.abs(model.apply(p, x, hw) - y))
  value, grads = jax.value_and_grad(loss)(params)
  updates, state = opt.update(grads, state, params)
  return optax.apply_updates(params, updates), state, value


def _fit(model, params, x, hw, y, steps_or_epochs, batch, seed, by_epoch):
  opt = _OPTIMIZER
  state = opt.init(params)
  rng = np.random.default_rng(seed)
  n = len(y)
  batch = min(batch, n)
  total = steps_or_epochs * (n // batch) if by_epoch else steps_or_epochs
  for _ in range(total):
    i = rng.choice(n, batch, replace=False)
    params, state, _ = _step(model, opt, params, state, jnp.asarray(x[i]), jnp.asarray(hw[i]),
                             jnp.asarray(y[i]))
  return params


def setup(space, table, data_dir=None):
  """(model, encoding [A, D]) for a space and its device vocabulary."""
  return MLP(table.num_hw), encodings.encoding(space, ENCODING[space.name], data_dir)


def init(ctx, seed: int):
  model, enc = ctx
  return model.init(jax.random.PRNGKey(seed), jnp.zeros((1, enc.shape[1])),
                    jnp.zeros((1,), jnp.int32))


def pretrain(ctx, params, table, train_ids, archs, seed: int):
  """`params` trained on `archs` measured on every training device."""
  model, enc = ctx
  x = np.concatenate([enc[archs]] * len(train_ids))
  hw = np.repeat(np.asarray(train_ids, np.int32), len(archs))
  y = np.concatenate([_standardise(np.log(table.latency_ms_HxA[h, archs].astype(np.float64)))
                      for h in train_ids]).astype(np.float32)
  return _fit(model, params, x, hw, y, PRETRAIN_EPOCHS, PRETRAIN_BATCH, seed, True)


def adapt_predict(ctx, params, table, train_ids, target_hw: int, picks, latency_ms,
                  seed: int) -> np.ndarray:
  """Scores of every architecture after the row copy and the L1 fine-tune on the samples."""
  model, enc = ctx
  src = transfer.most_correlated_hw(latency_ms, table.latency_ms_HxA[train_ids][:, picks],
                                    train_ids)
  params = jax.tree_util.tree_map(lambda a: a, params)  # new containers, same leaves
  rows = params["params"]["hw_table"]["embedding"]
  params["params"]["hw_table"]["embedding"] = rows.at[target_hw].set(rows[src])
  y = _standardise(np.log(np.asarray(latency_ms, np.float64))).astype(np.float32)
  hw = np.full(len(picks), target_hw, np.int32)
  params = _fit(model, params, enc[picks], hw, y, FINETUNE_STEPS, len(picks), seed, False)
  return np.asarray(model.apply(params, jnp.asarray(enc),
                                jnp.full(len(enc), target_hw, jnp.int32)))
