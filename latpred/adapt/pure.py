"""An adapted ensemble as one pure function of op ids: `fn(variables, ops_BxS) -> ms_B`.

`ensemble_fn` turns an `AdaptedEnsemble` (every member's fine-tuned parameters, hardware row and
ms line, and the optional stack) into

  fn(variables, ops_BxS) -> float32 [B] predicted latency (ms)

with `variables` the pytree {'params': members' parameters stacked on a leading axis,
'scale_ms': float32 [K, 2], 'stack': {'weights', 'scale', 'intercept'} or None}, every leaf a
float array. Everything else (each member's hardware-table row, the space's graphs, the
supplementary encoding, the stack's GNN-free columns) is a constant closed over by `fn`; an op-id row is mapped to its architecture by a sorted
lookup (`latpred.spaces.opindex`) and its graph gathered from the padded arrays
(`graphs.gather_batch`), all in jnp, so `fn` composes with `jax.jit`, `jax.vmap` and `jax.grad`
(with respect to `variables`).

Architectures outside the space's table (FBNet networks that were not measured; their
zero-cost proxies and the training devices' latencies, which the GNN and the stack read, exist
only for measured networks) come out as NaN, never as a silent guess.
"""

import jax
import jax.numpy as jnp

from latpred.adapt.ensemble import AdaptedEnsemble
from latpred.spaces import graphs as graphs_lib
from latpred.spaces.opindex import OpIndex


def variables_of(ens: AdaptedEnsemble) -> dict:
  """The pytree `fn` reads: members' parameters (stacked), ms lines, stack."""
  members = ens.members
  stack = None
  if ens.stack is not None:
    stack = {"weights": jnp.asarray(ens.stack.weights, jnp.float32),
             "scale": jnp.asarray(ens.stack.scale, jnp.float32),
             "intercept": jnp.asarray(ens.stack.intercept, jnp.float32)}
  return {"params": jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[m.params for m in members]),
          "scale_ms": jnp.asarray([m.scale_ms for m in members], jnp.float32),
          "stack": stack}


def ensemble_fn(model, space, supp_AxD, ens: AdaptedEnsemble, stack_basis_AxK=None):
  """(fn, variables) for `ens` on `space` (see the module docstring); a stacked ensemble needs
  `stack_basis_AxK` (`stacking.basis` of its training devices)."""
  if ens.stack is not None and stack_basis_AxK is None:
    raise ValueError("this adapted ensemble is stacked: pass stack_basis_AxK")
  index = OpIndex(space.op_ids_AxS, len(space.ops))
  arrays = graphs_lib.device_arrays(space.graph_set)
  supp = jnp.asarray(supp_AxD, jnp.float32) if supp_AxD.shape[1] else None
  basis = None if ens.stack is None else jnp.asarray(stack_basis_AxK, jnp.float32)
  hw_rows = jnp.asarray([m.hw_row for m in ens.members], jnp.int32)

  def fn(variables, ops_BxS):
    idx, found = index.lookup(ops_BxS)
    b = idx.shape[0]
    graphs = graphs_lib.gather_batch(arrays, idx)
    supp_b = None if supp is None else jnp.concatenate([supp[idx], jnp.zeros_like(supp[:1])])

    def member(params, hw_row, line):
      score = model.apply(params, graphs, hw_row, supp_b, train=False)[:b]
      return line[0] * score + line[1]

    ms = jax.vmap(member)(variables["params"], hw_rows, variables["scale_ms"]).mean(0)
    stack = variables["stack"]
    if stack is not None:
      features = jnp.concatenate([ms[:, None], basis[idx]], axis=1)
      ms = (features / stack["scale"][None, :]) @ stack["weights"] + stack["intercept"]
    return jnp.where(found, ms, jnp.nan)

  return fn, variables_of(ens)
