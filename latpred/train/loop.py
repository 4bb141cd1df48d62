"""Host-side training loops around the pure steps: batching, shuffling, progress, NaN checks.

An epoch is one device program (`steps.train_epoch_runs`: a scan over its steps, each batch
gathered on the device from the graph arrays by architecture index); the host sends only the
epoch's visiting order and reads the losses back to check their finiteness: after each epoch when
progress is shown, else all at once after the last.
"""

import functools
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from latpred.spaces import graphs as graphs_lib
from latpred.train import mesh as mesh_lib
from latpred.train import steps


def _pad_rows(x, rows):
  out = np.zeros((rows,) + x.shape[1:], x.dtype)
  out[:len(x)] = x
  return out


def check_finite(step_losses, epoch: int) -> np.ndarray:
  """The epoch's losses as a host array ([steps] or [steps, runs]).

  Raises:
    FloatingPointError: a non-finite loss, naming the epoch and its first such step.
  """
  values = np.asarray(step_losses)
  bad = ~np.isfinite(values.reshape(len(values), -1)).all(1)
  if bad.any():
    step = int(np.argmax(bad))
    raise FloatingPointError(f"non-finite loss {values[step]} at epoch {epoch}, step {step}")
  return values


def fit(model, params, graph_set, supp_AxD, hw_ids_H, latency_HxA, arch_idx, *, epochs: int,
        batch_size: int, lr: float, weight_decay: float, final_lr: float, seed: int,
        freeze: tuple = (), progress: Optional[Callable[[int, float], None]] = None,
        steps_per_epoch: Optional[int] = None):
  """Trains on `arch_idx` measured on the devices `hw_ids_H` (ranking loss per device).

  Args:
    latency_HxA: latency of every architecture on each device in `hw_ids_H` (row order equal).
    freeze: parameter-name prefixes that are not updated (e.g. 'op_embed').
    arch_idx: the architectures to train on; every epoch visits them in a new order, in
      fixed-size batches (the last one padded and masked), so the epoch compiles once.
    steps_per_epoch: see `fit_runs`.

  Returns:
    (params, per-epoch mean losses).
  Raises:
    FloatingPointError: a non-finite loss, with the epoch and step.
  """
  history = []

  def report(epoch, losses_K):
    progress(epoch, float(losses_K[0]))

  out = fit_runs(model, [params], graph_set, supp_AxD, [hw_ids_H], [latency_HxA], [arch_idx],
                 epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                 final_lr=final_lr, seeds_K=[seed], freeze=freeze,
                 progress=report if progress else None, history=history,
                 steps_per_epoch=steps_per_epoch)
  return out[0], history


@functools.lru_cache(maxsize=8)
def _graph_arrays(graph_set, runs: mesh_lib.Runs) -> dict:
  """The graph set on the device(s), once per (graph set, placement)."""
  return runs.replicate(graphs_lib.device_arrays(graph_set))


def epoch_steps(n: int, batch_size: int) -> int:
  """Steps of an epoch over n architectures in batches of at most `batch_size` (`fit`'s batch
  is min(batch_size, n))."""
  return math.ceil(n / min(batch_size, n))


def epoch_orders(rng, arch_idx, batch_size: int) -> np.ndarray:
  """One epoch's visiting order as [T, batch_size] indices: a fresh permutation of `arch_idx`
  cut into consecutive batches, the last padded with its own first index (`epoch_valid` masks
  the padding)."""
  order = rng.permutation(np.asarray(arch_idx))
  steps_ = epoch_steps(len(order), batch_size)
  out = np.empty(steps_ * batch_size, np.int32)
  out[:len(order)] = order
  out[len(order):] = order[(steps_ - 1) * batch_size]
  return out.reshape(steps_, batch_size)


def epoch_valid(n: int, batch_size: int, steps_per_epoch: Optional[int] = None) -> np.ndarray:
  """Which entries of `epoch_orders` are real, bool [T, batch_size]; with `steps_per_epoch`,
  T = that many (padded with steps of no real entry, which `steps.train_epoch` skips)."""
  steps_ = epoch_steps(n, batch_size)
  total = steps_ if steps_per_epoch is None else steps_per_epoch
  if total < steps_:
    raise ValueError(f"{n} architectures in batches of {batch_size} need {steps_} steps per "
                     f"epoch, more than steps_per_epoch={steps_per_epoch}")
  return (np.arange(total * batch_size) < n).reshape(total, batch_size)


def pad_steps(order_TxB, steps_per_epoch: int) -> np.ndarray:
  """`epoch_orders` padded to `steps_per_epoch` rows (repeating its first index)."""
  extra = steps_per_epoch - len(order_TxB)
  return np.concatenate([order_TxB, np.full((extra, order_TxB.shape[1]), order_TxB[0, 0],
                                            order_TxB.dtype)])


def _first(tree):
  return jax.tree_util.tree_map(lambda x: x[0], tree)


def fit_runs(model, params_K: list, graph_set, supp_AxD, hw_ids_KxH, latency_KxHxA,
             arch_idx_K: list, *, epochs: int, batch_size: int, lr: float, weight_decay: float,
             final_lr: float, seeds_K: list, freeze: tuple = (),
             runs: mesh_lib.Runs = mesh_lib.Runs(),
             progress: Optional[Callable[[int, np.ndarray], None]] = None,
             history: Optional[list] = None, steps_per_epoch: Optional[int] = None) -> list:
  """K independent `fit`s run as one vmapped program (`steps.train_epoch_runs`), an epoch per
  call, batches gathered on the device; with `runs.mesh`, the K runs are sharded over it.

  Run k is `fit(model, params_K[k], graph_set, supp_AxD, hw_ids_KxH[k], latency_KxHxA[k],
  arch_idx_K[k], seed=seeds_K[k], ...)`: the same visiting order, dropout and pair draws, so the
  results agree with K sequential fits up to float rounding. Every run needs the same number of
  architectures (hence the same steps and schedule). `progress(epoch, mean loss per run [K])`
  after each epoch: the host then waits for every epoch; without it the losses stay on the
  device and are checked after the last epoch (the device never waits for the host). `history`
  (a list) receives run 0's mean loss per epoch. `steps_per_epoch` pads each epoch to that many
  steps (skipped ones: no update), so that fits of different sizes with the same batch share one
  compiled epoch program (the learning-rate horizon is an input, not a constant of it). Returns
  the K trained parameter trees (on this process's default device).

  Raises:
    ValueError: runs of different sizes. FloatingPointError: a non-finite loss.
  """
  sizes = {len(a) for a in arch_idx_K}
  if len(sizes) != 1:
    raise ValueError(f"fit_runs needs runs of one size, got sizes {sorted(sizes)}")
  n, k = sizes.pop(), len(params_K)
  batch_size = min(batch_size, n)
  optimizer = steps.Optimizer(lr, weight_decay, final_lr, tuple(freeze))
  total_steps = np.int32(epochs * epoch_steps(n, batch_size))
  single = k == 1 and not runs.vmapped  # one run: the epoch program without the run axis
  if single:  # a device copy (the step donates its input), no trip through the host
    params = jax.device_put(params_K[0], may_alias=False)
  else:
    params = runs.shard(jax.tree_util.tree_map(lambda *x: np.stack([np.asarray(v) for v in x]),
                                               *params_K))
    if not runs.vmapped:
      params = jax.tree_util.tree_map(jnp.asarray, params)
  if single:
    opt_state = steps.init_state(optimizer, params)
  else:
    opt_state = steps.init_state_runs(optimizer, params, runs.sharding)
  arrays = _graph_arrays(graph_set, runs)
  supp = runs.replicate(np.asarray(supp_AxD, np.float32))
  per_run = (np.asarray(hw_ids_KxH, np.int32),
             np.stack([np.asarray(x, np.float32) for x in latency_KxHxA]),
             np.stack([np.asarray(jax.random.PRNGKey(s)) for s in seeds_K]))
  hw_ids, latency, keys = _first(per_run) if single else runs.shard(per_run)
  valid_TxB = epoch_valid(n, batch_size, steps_per_epoch)
  live = valid_TxB.any(1)  # the steps that train
  valid = runs.replicate(valid_TxB)
  epoch_fn = steps.train_epoch if single else steps.train_epoch_runs
  rngs = [np.random.default_rng(s) for s in seeds_K]
  pending = []  # losses on the device, not yet checked

  def check(first, losses):
    """Mean loss per run [K] of each epoch of `losses` ([E] device arrays, from `first`)."""
    means = []
    for e, host in enumerate(mesh_lib.to_host(x) for x in losses):
      losses_TxK = host[:, None] if single else host[:k].T
      means.append(check_finite(losses_TxK, first + e)[live].mean(0))
      if history is not None:
        history.append(float(means[-1][0]))
    return means

  for epoch in range(epochs):
    orders = np.stack([pad_steps(epoch_orders(r, a, batch_size), len(live))
                       for r, a in zip(rngs, arch_idx_K)])
    orders = orders[0] if single else runs.shard(orders)
    params, opt_state, keys, losses = epoch_fn(model, optimizer, params, opt_state, arrays, supp,
                                               orders, valid, hw_ids, latency, keys,
                                               total_steps)
    if progress:
      progress(epoch, check(epoch, [losses])[0])
    else:
      pending.append(losses)
  check(0, pending)  # one transfer after the last epoch (empty with progress)
  if single:
    return [params]
  host = jax.tree_util.tree_map(mesh_lib.to_host, params) if runs.vmapped else params
  return [jax.tree_util.tree_map(lambda x, i=i: jnp.asarray(x[i]), host) for i in range(k)]


MIN_PREDICT_BATCH = 32
MAX_PREDICT_BATCH = 1024  # off CPU


def predict(model, params, graph_set, supp_AxD, hw_id: int, arch_idx,
            batch_size: Optional[int] = None) -> np.ndarray:
  """Scores of `arch_idx` on device `hw_id`, float32 [len(arch_idx)], in padded batches of a
  power of two (at least MIN_PREDICT_BATCH, at most `batch_size`; default `graphs.cache_batch`
  on CPU, MAX_PREDICT_BATCH elsewhere): a few compiled shapes whatever the counts asked for (an
  adaptation's 20 samples and its folds' 16 share one)."""
  if batch_size is None:
    batch_size = graphs_lib.cache_batch(graph_set.num_nodes) or MAX_PREDICT_BATCH
  arch_idx = np.asarray(arch_idx)
  batch_size = min(batch_size, max(MIN_PREDICT_BATCH, 1 << (len(arch_idx) - 1).bit_length()))
  outs = []
  for chunk in graphs_lib.batches(len(arch_idx), batch_size):
    idx = arch_idx[chunk]
    g = graphs_lib.batch(graph_set, idx, batch_size)
    supp = _pad_rows(supp_AxD[idx], batch_size + 1) if supp_AxD.shape[1] else None
    outs.append(np.asarray(steps.predict_step(model, params, g, supp, np.int32(hw_id)))[:len(idx)])
  return np.concatenate(outs)
