"""Orbax checkpoints of predictor parameters, with a JSON of metadata beside them, and the
step layout of a trial's ensemble members."""

import pathlib

import jax
import numpy as np
import orbax.checkpoint as ocp


def _manager(directory) -> ocp.CheckpointManager:
  """A manager of this process alone: under jax.distributed, orbax would otherwise make every
  save and restore a collective of all processes, while latpred's processes hold the same
  (host) parameters, only process 0 saves and the others read (latpred.train.mesh)."""
  me = jax.process_index()
  alone = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
  path = pathlib.Path(directory).resolve()
  path.mkdir(parents=True, exist_ok=True)  # orbax's create=True is a collective
  return ocp.CheckpointManager(
      path, options=ocp.CheckpointManagerOptions(create=False, multiprocessing_options=alone))


def save(directory, step: int, params, meta: dict) -> None:
  """Saves `params` and `meta` (JSON: config, device vocabulary, encoding version...)."""
  mngr = _manager(directory)
  params = jax.tree_util.tree_map(np.asarray, params)  # host arrays: no device layout to save
  mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(params),
                                          meta=ocp.args.JsonSave(meta)))
  mngr.wait_until_finished()
  mngr.close()


def restore(directory, step: int, like_params):
  """(params, meta) saved at `step`, or None if there is none; `like_params` gives the tree
  (arrays or `jax.ShapeDtypeStruct`s, e.g. from `jax.eval_shape`)."""
  path = pathlib.Path(directory).resolve()
  if not path.exists():
    return None
  mngr = _manager(path)
  try:
    if step not in mngr.all_steps():
      return None
    like = jax.tree_util.tree_map(lambda x: np.zeros(x.shape, x.dtype),  # as host arrays
                                  like_params)
    out = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(like),
                                                     meta=ocp.args.JsonRestore()))
    return jax.device_put(out["state"]), out["meta"]  # (jnp.asarray compiles per shape)
  finally:
    mngr.close()


def restore_meta(directory, step: int) -> dict:
  """The JSON metadata saved at `step`."""
  mngr = _manager(directory)
  try:
    return mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
  finally:
    mngr.close()


def steps(directory) -> list[int]:
  """Saved steps in `directory` (empty if there is none)."""
  path = pathlib.Path(directory).resolve()
  if not path.exists():
    return []
  mngr = _manager(path)
  try:
    return list(mngr.all_steps())
  finally:
    mngr.close()


MAX_MEMBERS = 1000  # a trial's ensemble member k is saved at step trial * MAX_MEMBERS + k


def member_step(trial: int, member: int) -> int:
  """The checkpoint step of ensemble member `member` of `trial`."""
  if not 0 <= member < MAX_MEMBERS:
    raise ValueError(f"ensemble member {member} outside [0, {MAX_MEMBERS})")
  return trial * MAX_MEMBERS + member


def trial_steps(directory, trial: int) -> list[int]:
  """The saved steps of `trial`'s ensemble members, in member order."""
  first = member_step(trial, 0)
  return sorted(s for s in steps(directory) if first <= s < first + MAX_MEMBERS)


def delete(directory, step: int) -> None:
  """Removes the checkpoint at `step` (if any)."""
  if step not in steps(directory):
    return
  mngr = _manager(directory)
  try:
    mngr.delete(step)
  finally:
    mngr.close()
