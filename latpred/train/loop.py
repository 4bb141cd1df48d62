"""Host-side training loops around the pure steps: batching, shuffling, progress, NaN checks.

The losses stay on the device during an epoch (no host sync per step, so the host can batch the
next step while the device runs this one); their finiteness is checked once per epoch.
"""

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from latpred.spaces import graphs as graphs_lib
from latpred.train import steps


def _pad_rows(x, rows):
  out = np.zeros((rows,) + x.shape[1:], x.dtype)
  out[:len(x)] = x
  return out


def check_finite(step_losses: list, epoch: int) -> np.ndarray:
  """The epoch's losses on the host ([steps] or [steps, runs]), one transfer.

  Raises:
    FloatingPointError: a non-finite loss, naming the epoch and its first such step.
  """
  values = np.asarray(jnp.stack(step_losses))
  bad = ~np.isfinite(values.reshape(len(values), -1)).all(1)
  if bad.any():
    step = int(np.argmax(bad))
    raise FloatingPointError(f"non-finite loss {values[step]} at epoch {epoch}, step {step}")
  return values


def fit(model, params, graph_set, supp_AxD, hw_ids_H, latency_HxA, arch_idx, *, epochs: int,
        batch_size: int, lr: float, weight_decay: float, final_lr: float, seed: int,
        freeze: tuple = (), progress: Optional[Callable[[int, float], None]] = None):
  """Trains on `arch_idx` measured on the devices `hw_ids_H` (ranking loss per device).

  Args:
    latency_HxA: latency of every architecture on each device in `hw_ids_H` (row order equal).
    freeze: parameter-name prefixes that are not updated (e.g. 'op_embed').
    arch_idx: the architectures to train on; every epoch visits them in a new order, in
      fixed-size batches (the last one padded), so the step compiles once.

  Returns:
    (params, per-epoch mean losses).
  Raises:
    FloatingPointError: a non-finite loss, with the epoch and step.
  """
  arch_idx = np.asarray(arch_idx)
  batch_size = min(batch_size, len(arch_idx))
  steps_per_epoch = math.ceil(len(arch_idx) / batch_size)
  optimizer = steps.make_optimizer(lr, weight_decay, final_lr, epochs * steps_per_epoch,
                                   tuple(freeze))
  params = jax.tree_util.tree_map(jnp.array, params)  # a copy: the step donates its input
  opt_state = optimizer.init(params)
  hw_ids_H = np.asarray(hw_ids_H, np.int32)
  rng = np.random.default_rng(seed)
  key = jax.random.PRNGKey(seed)
  history = []
  for epoch in range(epochs):
    order = rng.permutation(arch_idx)
    losses = []
    for step, chunk in enumerate(graphs_lib.batches(len(order), batch_size)):
      idx = order[chunk]
      g = graphs_lib.batch(graph_set, idx, batch_size)
      supp = _pad_rows(supp_AxD[idx], batch_size + 1) if supp_AxD.shape[1] else None
      lat = np.zeros((len(hw_ids_H), batch_size + 1), np.float32)
      lat[:, :len(idx)] = latency_HxA[:, idx]
      key, sub = jax.random.split(key)
      params, opt_state, loss = steps.train_step(model, optimizer, params, opt_state, g, supp,
                                                 hw_ids_H, lat, sub)
      losses.append(loss)
    history.append(float(np.mean(check_finite(losses, epoch))))
    if progress:
      progress(epoch, history[-1])
  return params, history


def fit_runs(model, params_K: list, graph_set, supp_AxD, hw_ids_KxH, latency_KxHxA,
             arch_idx_K: list, *, epochs: int, batch_size: int, lr: float, weight_decay: float,
             final_lr: float, seeds_K: list, freeze: tuple = ()) -> list:
  """K independent `fit`s run as one vmapped program (`steps.train_step_runs`).

  Run k is `fit(model, params_K[k], graph_set, supp_AxD, hw_ids_KxH[k], latency_KxHxA[k],
  arch_idx_K[k], seed=seeds_K[k], ...)`: the same visiting order, dropout and pair draws, so the
  results agree with K sequential fits up to float rounding. Every run needs the same number of
  architectures (hence the same steps and schedule). Returns the K trained parameter trees.

  Raises:
    ValueError: runs of different sizes. FloatingPointError: a non-finite loss.
  """
  sizes = {len(a) for a in arch_idx_K}
  if len(sizes) != 1:
    raise ValueError(f"fit_runs needs runs of one size, got sizes {sorted(sizes)}")
  n = sizes.pop()
  batch_size = min(batch_size, n)
  optimizer = steps.make_optimizer(lr, weight_decay, final_lr,
                                   epochs * math.ceil(n / batch_size), tuple(freeze))
  params = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *params_K)
  opt_state = jax.vmap(optimizer.init)(params)
  hw_ids = np.asarray(hw_ids_KxH, np.int32)
  rngs = [np.random.default_rng(s) for s in seeds_K]
  keys = [jax.random.PRNGKey(s) for s in seeds_K]
  for epoch in range(epochs):
    orders = [rng.permutation(np.asarray(a)) for rng, a in zip(rngs, arch_idx_K)]
    losses = []
    for step, chunk in enumerate(graphs_lib.batches(n, batch_size)):
      idx = [o[chunk] for o in orders]
      g = jax.tree_util.tree_map(lambda *x: np.stack(x),
                                 *[graphs_lib.batch(graph_set, i, batch_size) for i in idx])
      supp = (np.stack([_pad_rows(supp_AxD[i], batch_size + 1) for i in idx])
              if supp_AxD.shape[1] else None)
      lat = np.zeros((len(idx), hw_ids.shape[1], batch_size + 1), np.float32)
      for k, i in enumerate(idx):
        lat[k, :, :len(i)] = latency_KxHxA[k][:, i]
      subs = []
      for k in range(len(keys)):
        keys[k], sub = jax.random.split(keys[k])
        subs.append(sub)
      params, opt_state, loss = steps.train_step_runs(model, optimizer, params, opt_state, g,
                                                      supp, hw_ids, lat, jnp.stack(subs))
      losses.append(loss)
    check_finite(losses, epoch)
  return [jax.tree_util.tree_map(lambda x, k=k: x[k], params) for k in range(len(params_K))]


def predict(model, params, graph_set, supp_AxD, hw_id: int, arch_idx,
            batch_size: int = 1024) -> np.ndarray:
  """Scores of `arch_idx` on device `hw_id`, float32 [len(arch_idx)]."""
  arch_idx = np.asarray(arch_idx)
  batch_size = min(batch_size, max(1, len(arch_idx)))
  outs = []
  for chunk in graphs_lib.batches(len(arch_idx), batch_size):
    idx = arch_idx[chunk]
    g = graphs_lib.batch(graph_set, idx, batch_size)
    supp = _pad_rows(supp_AxD[idx], batch_size + 1) if supp_AxD.shape[1] else None
    outs.append(np.asarray(steps.predict_step(model, params, g, supp, np.int32(hw_id)))[:len(idx)])
  return np.concatenate(outs)
