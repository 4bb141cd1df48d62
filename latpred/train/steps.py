"""Pure training steps. The per-device loss is written once and vmapped over a leading
training-device axis with shared parameters; fine-tuning on one target is the same step with a
device axis of one. Key: H devices in the batch, G graphs per batch (B real + 1 padding).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from latpred.spaces import graphs as graphs_lib
from latpred.train.losses import pairwise_hinge, sample_pairs

PAIRS_PER_ARCH = 4  # at most 4 * batch pairs per device and step (NASFLAT §5)


def cosine_schedule(lr: float, final_lr: float, total_steps):
  """optax.cosine_decay_schedule(lr, total_steps, alpha=final_lr / lr), written so that
  `total_steps` may be a traced value (the same floats as optax's for a Python int)."""
  alpha = final_lr / lr

  def schedule(count):
    total = jnp.maximum(jnp.asarray(total_steps, jnp.float32), 1.0)
    count = jnp.minimum(count, total)
    return lr * ((1 - alpha) * (0.5 * (1 + jnp.cos(jnp.pi * count / total))) + alpha)

  return schedule


@dataclasses.dataclass(frozen=True)
class Optimizer:
  """AdamW with cosine decay from `lr` to `final_lr` over a horizon given when it is built
  (`transform(total_steps)`, which may be traced: runs of different lengths then share one
  compiled epoch program). Parameters whose top-level name starts with a prefix in `freeze` get
  no update. Hashable: a static argument of the jitted steps."""

  lr: float
  weight_decay: float
  final_lr: float
  freeze: tuple = ()

  def transform(self, total_steps) -> optax.GradientTransformation:
    opt = optax.adamw(cosine_schedule(self.lr, self.final_lr, total_steps),
                      weight_decay=self.weight_decay)
    if not self.freeze:
      return opt
    freeze = self.freeze

    def labels(params):
      return {"params": {k: jax.tree_util.tree_map(
          lambda _, k=k: "frozen" if k.startswith(freeze) else "train", v)
                         for k, v in params["params"].items()}}

    return optax.multi_transform({"train": opt, "frozen": optax.set_to_zero()}, labels)

  def init(self, params):
    """The optimizer state (its structure does not depend on the horizon)."""
    return self.transform(1).init(params)


@functools.partial(jax.jit, static_argnums=(0,))
def init_state(optimizer: Optimizer, params):
  """`optimizer.init(params)` as one compiled program (eagerly, every parameter shape compiled
  its own zeros: 22 small compilations, 0.4 s in a fresh process)."""
  return optimizer.init(params)


@functools.partial(jax.jit, static_argnums=(0, 2))
def init_state_runs(optimizer: Optimizer, params_K, sharding=None):
  """`init_state` of K runs (leading axis K), every leaf laid out by `sharding` (the runs'
  placement, e.g. `NamedSharding(mesh, P('runs'))`). Without it the state's zeros, which depend
  on no input's values, land on one device: the first epoch then reads them from there and its
  program differs from the later epochs' (one compilation more per program, measured)."""
  state = jax.vmap(optimizer.init)(params_K)
  return state if sharding is None else jax.lax.with_sharding_constraint(state, sharding)


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
def train_step(model, optimizer: Optimizer, params, opt_state, graphs, supp_GxD, hw_ids_H,
               latency_HxG, rng, total_steps):
  """One AdamW step on a batch with a leading training-device axis, the learning rate on the
  cosine over `total_steps` (as in `train_epoch`, whose steps are this one's `_step`); returns
  (params, state, loss). Jitted once per (model, optimizer, shapes)."""
  return _step(model, optimizer.transform(total_steps), params, opt_state, graphs, supp_GxD,
               hw_ids_H, latency_HxG, rng)


def _epoch(model, optimizer: Optimizer, params, opt_state, arrays, supp_AxD, order_TxB,
           valid_TxB, hw_ids_H, latency_HxA, key, total_steps):
  """One run's epoch: a loop over its steps, each batch gathered on the device from the
  architecture indices `order_TxB` (`valid_TxB` False for the last batch's padding), the
  learning rate decaying over `total_steps` (traced). Steps with no valid entry (a run padded to
  another's step count, so that both share this program; always the last ones) are not run: the
  loop's trip count is the number of steps with a valid entry, a traced value, so a step costs
  nothing when it does not run (a `lax.cond` per step measured 15-30 % slower on FBNet fine-tunes
  on the 2-core CPU). Their losses read 0."""
  transform = optimizer.transform(total_steps)

  def step(t, carry):
    params, opt_state, key, losses = carry
    idx, valid = order_TxB[t], valid_TxB[t]
    key, sub = jax.random.split(key)
    graphs = graphs_lib.gather_batch(arrays, idx)
    mask = jnp.concatenate([valid, jnp.zeros(1, bool)])
    supp = None
    if supp_AxD.shape[1]:
      supp = jnp.concatenate([supp_AxD[idx], jnp.zeros((1, supp_AxD.shape[1]), supp_AxD.dtype)])
    lat = jnp.where(valid[None, :], latency_HxA[:, idx], 0.0)
    lat = jnp.concatenate([lat, jnp.zeros((lat.shape[0], 1), lat.dtype)], axis=1)
    params, opt_state, loss = _step(model, transform, params, opt_state, graphs, supp, hw_ids_H,
                                    lat, sub, mask)
    return params, opt_state, key, losses.at[t].set(loss)

  live = jnp.sum(jnp.any(valid_TxB, axis=1)).astype(jnp.int32)
  losses = jnp.zeros(order_TxB.shape[0], jnp.float32)
  return jax.lax.fori_loop(0, live, step, (params, opt_state, key, losses))


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(2, 3))
def train_epoch(model, optimizer: Optimizer, params, opt_state, arrays, supp_AxD, order_TxB,
                valid_TxB, hw_ids_H, latency_HxA, key, total_steps):
  """One epoch of one run (`train_epoch_runs` without the run axis): (params, opt_state, key,
  losses [T]). A vmap over one run measured 1.6x slower on the 2-core CPU than this. Compiles
  once per (model, optimizer, shapes), whatever `total_steps`."""
  return _epoch(model, optimizer, params, opt_state, arrays, supp_AxD, order_TxB, valid_TxB,
                hw_ids_H, latency_HxA, key, total_steps)


@functools.partial(jax.jit, static_argnums=(0, 1), donate_argnums=(2, 3))
def train_epoch_runs(model, optimizer: Optimizer, params_K, opt_state_K, arrays, supp_AxD,
                     order_KxTxB, valid_TxB, hw_ids_KxH, latency_KxHxA, key_K, total_steps):
  """One epoch of K independent runs as one vmapped program (the graph arrays, the
  supplementary encoding, the step mask and the horizon shared, everything else with a leading
  run axis, which a caller may shard over devices); returns (params, opt_state, keys, losses
  [K, T]). Compiles once per (model, optimizer, shapes)."""
  return jax.vmap(functools.partial(_epoch, model, optimizer),
                  in_axes=(0, 0, None, None, 0, None, 0, 0, 0, None))(
      params_K, opt_state_K, arrays, supp_AxD, order_KxTxB, valid_TxB, hw_ids_KxH,
      latency_KxHxA, key_K, total_steps)


@functools.partial(jax.jit, static_argnums=(0,))
def predict_step(model, params, graphs, supp_GxD, hw_id):
  """Scores of one batch on one device (inference: no dropout)."""
  return model.apply(params, graphs, hw_id, supp_GxD, train=False)
