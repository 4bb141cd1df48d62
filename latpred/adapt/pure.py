"""An adapted ensemble as one pure function of op ids: `fn(variables, ops_BxS) -> ms_B`.

`ensemble_fn` turns an `AdaptedEnsemble` (every member's fine-tuned parameters, hardware row and
ms line, and the optional stack) into

  fn(variables, ops_BxS) -> float32 [B] predicted latency (ms)

with `variables` the pytree {'params': members' parameters stacked on a leading axis,
'scale_ms': float32 [K, 2], 'stack': {'weights', 'scale', 'intercept'} or None}, every leaf a
float array, so `fn` composes with `jax.jit`, `jax.vmap` and `jax.grad` (with respect to
`variables`). Everything else (each member's hardware-table row, graph arrays, the supplementary
encoding, the stack's GNN-free columns) is a constant closed over by `fn`. Inside `fn`, in jnp
only: the graphs are built from the op ids (`graphs.from_ops`; by gathering the space's padded
arrays where edges depend on the ops, NB201 'pruned'), and each row is looked up in the space's
table of measured architectures (`latpred.spaces.opindex`).

Unmeasured architectures (FBNet has 9^22 networks, 5,000 measured). Two inputs exist only for
measured ones: the supplementary encoding (FBNet's zero-cost proxies) and the stack's columns
(the training devices' measured latencies). With `surrogate` (the default) an unmeasured
network gets both from a least-squares fit on one-hot (slot, op) plus a constant, fitted on the
measured networks (`measured`: which rows of the table count as measured; all by default): a
per-layer additive model,
exact for FLOPs, params and the compute-op count, approximate for proxies and latencies
(`experiments/unmeasured.py` measures what it costs). Without it they come out NaN. Op ids
outside the space's vocabulary always give NaN, never a silent guess.

Speed: `fn` runs the batch in steps of `chunk` architectures (`jax.lax.map`, the last step padded
with copies of the first row). On CPU the default (`graphs.cache_batch`) keeps a step to about
2,048 node rows, so a step's 128-wide activations stay in cache instead of streaming
through memory between layers: all 15,625 NB201 cells 1.83 -> 1.11 s, all 5,000 FBNet networks
1.62 -> 0.96 s on the 2-core CPU (docs/throughput.md, session 13). Elsewhere the default is one
step (an accelerator wants the whole batch). The values do not depend on the chunk (to float
rounding). Where the space's edges are fixed (NB201 'full', FBNet), the model's DGF layers sum
messages by gathering each node's fixed predecessors (`graphs.sum_from_predecessors`) instead
of scattering over the edge list: the same values in 13 % / 9 % less time (session 19).
"""

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from latpred.adapt.ensemble import AdaptedEnsemble
from latpred.spaces import graphs as graphs_lib
from latpred.spaces.opindex import OpIndex


def in_chunks(rows_fn, ops_BxS, chunk: int):
  """`rows_fn(ops) -> [B]` over `ops` in steps of `chunk` rows (`jax.lax.map`; 0 or a batch no
  larger than `chunk`: one call); the last step is padded with copies of the first row, whose
  outputs are dropped."""
  ops = jnp.asarray(ops_BxS)
  if ops.ndim != 2:
    raise ValueError(f"need op ids [B, S], got shape {ops.shape}")
  b, s = ops.shape
  if not chunk or b <= chunk:
    return rows_fn(ops)
  steps = -(-b // chunk)
  padded = jnp.concatenate([ops, jnp.broadcast_to(ops[:1], (steps * chunk - b, s))])
  return jax.lax.map(rows_fn, padded.reshape(steps, chunk, s)).reshape(-1)[:b]


def variables_of(ens: AdaptedEnsemble) -> dict:
  """The pytree `fn` reads: members' parameters (stacked), ms lines, stack."""
  stack = None
  if ens.stack is not None:
    stack = {"weights": jnp.asarray(ens.stack.weights, jnp.float32),
             "scale": jnp.asarray(ens.stack.scale, jnp.float32),
             "intercept": jnp.asarray(ens.stack.intercept, jnp.float32)}
  return {"params": jax.tree_util.tree_map(lambda *x: jnp.stack(x),
                                           *[m.params for m in ens.members]),
          "scale_ms": jnp.asarray([m.scale_ms for m in ens.members], jnp.float32),
          "stack": stack}


def onehot(ops_BxS, num_ops: int, xp=jnp):
  """One-hot (slot, op) plus a constant 1, [B, S * num_ops + 1]."""
  ops = xp.asarray(ops_BxS)
  hot = (ops[:, :, None] == xp.arange(num_ops)[None, None, :]).reshape(len(ops), -1)
  return xp.concatenate([hot.astype(xp.float32), xp.ones((len(ops), 1), xp.float32)], axis=1)


def surrogate_weights(op_ids_AxS, num_ops: int, targets_AxK, fit_idx=None) -> np.ndarray:
  """Least-squares weights [S * num_ops + 1, K]: `targets` from `onehot`, fitted on `fit_idx`
  (default: every row)."""
  rows = slice(None) if fit_idx is None else np.asarray(fit_idx)
  x = onehot(np.asarray(op_ids_AxS)[rows], num_ops, np).astype(np.float64)
  y = np.asarray(targets_AxK, np.float64)[rows]
  return np.linalg.lstsq(x, y, rcond=None)[0].astype(np.float32)


def ensemble_fn(model, space, supp_AxD, ens: AdaptedEnsemble, stack_basis_AxK=None, *,
                surrogate: bool = True, measured: Optional[np.ndarray] = None,
                chunk: Optional[int] = None):
  """(fn, variables) for `ens` on `space` (see the module docstring); a stacked ensemble needs
  `stack_basis_AxK` (`stacking.basis` of its training devices). `measured`: indices of the
  architectures whose table inputs `fn` may read (default: all); the others are treated as
  unmeasured (to measure what the surrogate costs on networks whose truth is known). `chunk`:
  architectures per step of `fn` (None: `graphs.cache_batch`, a power of two, so that it divides
  predict_ms's power-of-two calls; 0: the whole batch at once)."""
  if ens.stack is not None and stack_basis_AxK is None:
    raise ValueError("this adapted ensemble is stacked: pass stack_basis_AxK")
  if chunk is None:
    chunk = graphs_lib.cache_batch(space.graph_set.num_nodes)
  if chunk < 0:
    raise ValueError(f"chunk must be >= 0 (0: no chunking), got {chunk}")
  num_ops = len(space.ops)
  measured = np.arange(space.num_archs) if measured is None else np.asarray(measured)
  index = OpIndex(space.op_ids_AxS[measured], num_ops)
  measured_j = jnp.asarray(measured, jnp.int32)
  template = graphs_lib.op_template(space.graph_set, space.op_ids_AxS, num_ops)
  arrays = graphs_lib.device_arrays(space.graph_set) if template is None else None
  if template is not None:  # every batch has the template's edges: DGF gathers along them
    model = model.clone(predecessors=graphs_lib.predecessors(template))
  tables = [np.asarray(supp_AxD, np.float32)]
  if ens.stack is not None:
    tables.append(np.asarray(stack_basis_AxK, np.float32))
  table = np.concatenate(tables, axis=1)  # [A, D (+ K)]: what only measured networks have
  table_j = jnp.asarray(table)
  weights = (jnp.asarray(surrogate_weights(space.op_ids_AxS, num_ops, table, measured))
             if surrogate and table.shape[1] else None)
  num_supp = supp_AxD.shape[1]
  hw_rows = jnp.asarray([m.hw_row for m in ens.members], jnp.int32)

  def rows(variables, ops):
    idx, found = index.lookup(ops)
    idx = measured_j[idx]
    valid = jnp.all((ops >= 0) & (ops < num_ops), axis=1)
    safe_ops = jnp.clip(ops, 0, num_ops - 1)
    if template is not None:
      graphs, known = graphs_lib.from_ops(template, safe_ops), valid
    else:
      graphs, known = graphs_lib.gather_batch(arrays, idx), found
    inputs = table_j[idx]
    if weights is not None:
      inputs = jnp.where(found[:, None], inputs, onehot(safe_ops, num_ops) @ weights)
    elif table.shape[1]:  # inputs only measured networks have, and no surrogate
      known = known & found
    b = ops.shape[0]
    supp = (jnp.concatenate([inputs[:, :num_supp], jnp.zeros((1, num_supp))])
            if num_supp else None)

    def member(params, hw_row, line):
      score = model.apply(params, graphs, hw_row, supp, train=False)[:b]
      return line[0] * score + line[1]

    ms = jax.vmap(member)(variables["params"], hw_rows, variables["scale_ms"]).mean(0)
    stack = variables["stack"]
    if stack is not None:
      features = jnp.concatenate([ms[:, None], inputs[:, num_supp:]], axis=1)
      ms = (features / stack["scale"][None, :]) @ stack["weights"] + stack["intercept"]
    return jnp.where(known, ms, jnp.nan)

  def fn(variables, ops_BxS):
    return in_chunks(lambda ops: rows(variables, ops), ops_BxS, chunk)

  return fn, variables_of(ens)
