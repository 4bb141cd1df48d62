"""Pure training steps. The per-device loss is written once and vmapped over a leading
training-device axis with shared parameters; fine-tuning on one target is the same step with a
device axis of one. Key: H devices in the batch, G graphs per batch (B real + 1 padding).
"""

import functools

import jax
import jax.numpy as jnp
import optax

from latpred.spaces import graphs as graphs_lib
from latpred.train.losses import pairwise_hinge, sample_pairs

PAIRS_PER_ARCH = 4  # at most 4 * batch pairs per device and step (NASFLAT §5)


@functools.lru_cache(maxsize=64)
def make_optimizer(lr: float, weight_decay: float, final_lr: float, total_steps: int,
                   freeze: tuple = ()) -> optax.GradientTransformation:
  """AdamW with cosine decay from `lr` to `final_lr` over `total_steps`.

  Parameters whose top-level name starts with a prefix in `freeze` get no update. Cached, so
  equal settings give the same (hashable) optimizer and the jitted step is not recompiled.
  """
  schedule = optax.cosine_decay_schedule(lr, max(1, total_steps), alpha=final_lr / lr)
  opt = optax.adamw(schedule, weight_decay=weight_decay)
  if not freeze:
    return opt

  def labels(params):
    return {"params": {k: jax.tree_util.tree_map(
        lambda _, k=k: "frozen" if k.startswith(freeze) else "train", v)
                       for k, v in params["params"].items()}}

  return optax.multi_transform({"train": opt, "frozen": optax.set_to_zero()}, labels)


def per_hw_loss(params, model, graphs, supp_GxD, hw_id, latency_G, rng, mask_G=None):
  """Ranking loss of one device on one batch (pairs only within this device); `mask_G` marks
  the graphs that count (default: all but the padding graph)."""
  k_drop, k_pairs = jax.random.split(rng)
  scores = model.apply(params, graphs, hw_id, supp_GxD, train=True, rngs={"dropout": k_drop})
  num_graphs = scores.shape[0]
  pi, pj = sample_pairs(k_pairs, num_graphs, PAIRS_PER_ARCH * (num_graphs - 1))
  mask = graphs_lib.graph_mask(graphs) if mask_G is None else mask_G
  return pairwise_hinge(scores, latency_G, mask, pi, pj)


def batch_loss(params, model, graphs, supp_GxD, hw_ids_H, latency_HxG, rng, mask_G=None):
  """Mean over devices of `per_hw_loss`, vmapped over the leading device axis."""
  rngs = jax.random.split(rng, hw_ids_H.shape[0])
  losses = jax.vmap(per_hw_loss, in_axes=(None, None, None, None, 0, 0, 0, None))(
      params, model, graphs, supp_GxD, hw_ids_H, latency_HxG, rngs, mask_G)
  return jnp.mean(losses)


def _step(model, optimizer, params, opt_state, graphs, supp_GxD, hw_ids_H, latency_HxG, rng,
          mask_G=None):
  loss, grads = jax.value_and_grad(batch_loss)(params, model, graphs, supp_GxD, hw_ids_H,
                                               latency_HxG, rng, mask_G)
  updates, opt_state = optimizer.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state, loss


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(2, 3))
def train_step(model, optimizer, params, opt_state, graphs, supp_GxD, hw_ids_H, latency_HxG,
               rng):
  """One AdamW step on a batch with a leading training-device axis; returns (params, state,
  loss). Jitted once per (model, optimizer, shapes)."""
  return _step(model, optimizer, params, opt_state, graphs, supp_GxD, hw_ids_H, latency_HxG, rng)


def _epoch(model, optimizer, params, opt_state, arrays, supp_AxD, order_TxB, valid_TxB,
           hw_ids_H, latency_HxA, key):
  """One run's epoch: a scan over its T steps, each batch gathered on the device from the
  architecture indices `order_TxB` (`valid_TxB` False for the last batch's padding)."""

  def step(carry, xs):
    params, opt_state, key = carry
    idx, valid = xs
    key, sub = jax.random.split(key)
    graphs = graphs_lib.gather_batch(arrays, idx)
    mask = jnp.concatenate([valid, jnp.zeros(1, bool)])
    supp = None
    if supp_AxD.shape[1]:
      supp = jnp.concatenate([supp_AxD[idx], jnp.zeros((1, supp_AxD.shape[1]), supp_AxD.dtype)])
    lat = jnp.where(valid[None, :], latency_HxA[:, idx], 0.0)
    lat = jnp.concatenate([lat, jnp.zeros((lat.shape[0], 1), lat.dtype)], axis=1)
    params, opt_state, loss = _step(model, optimizer, params, opt_state, graphs, supp, hw_ids_H,
                                    lat, sub, mask)
    return (params, opt_state, key), loss

  (params, opt_state, key), losses = jax.lax.scan(step, (params, opt_state, key),
                                                  (order_TxB, valid_TxB))
  return params, opt_state, key, losses


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(2, 3))
def train_epoch(model, optimizer, params, opt_state, arrays, supp_AxD, order_TxB, valid_TxB,
                hw_ids_H, latency_HxA, key):
  """One epoch of one run (`train_epoch_runs` without the run axis): (params, opt_state, key,
  losses [T]). A vmap over one run measured 1.6x slower on the 2-core CPU than this."""
  return _epoch(model, optimizer, params, opt_state, arrays, supp_AxD, order_TxB, valid_TxB,
                hw_ids_H, latency_HxA, key)


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(2, 3))
def train_epoch_runs(model, optimizer, params_K, opt_state_K, arrays, supp_AxD, order_KxTxB,
                     valid_TxB, hw_ids_KxH, latency_KxHxA, key_K):
  """One epoch of K independent runs as one vmapped program (the graph arrays and the
  supplementary encoding shared, everything else with a leading run axis, which a caller may
  shard over devices); returns (params, opt_state, keys, losses [K, T]). Compiles once per
  (model, optimizer, shapes)."""
  return jax.vmap(functools.partial(_epoch, model, optimizer),
                  in_axes=(0, 0, None, None, 0, None, 0, 0, 0))(
      params_K, opt_state_K, arrays, supp_AxD, order_KxTxB, valid_TxB, hw_ids_KxH,
      latency_KxHxA, key_K)


@functools.partial(jax.jit, static_argnums=(0,))
def predict_step(model, params, graphs, supp_GxD, hw_id):
  """Scores of one batch on one device (inference: no dropout)."""
  return model.apply(params, graphs, hw_id, supp_GxD, train=False)
