"""Host-side training loops around the pure steps: batching, shuffling, progress, NaN checks."""

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from latpred import graphs as graphs_lib
from latpred.train import steps


def _pad_rows(x, rows):
  out = np.zeros((rows,) + x.shape[1:], x.dtype)
  out[:len(x)] = x
  return out


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
      loss = float(loss)
      if not np.isfinite(loss):
        raise FloatingPointError(f"non-finite loss {loss} at epoch {epoch}, step {step}")
      losses.append(loss)
    history.append(float(np.mean(losses)))
    if progress:
      progress(epoch, history[-1])
  return params, history


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
