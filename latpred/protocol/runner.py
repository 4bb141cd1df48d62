"""pretrain -> transfer -> evaluate for every target of a task; resumable; writes results.

A rerun in the same workdir reuses a pretrained checkpoint or a finished target only when its
signature (latpred.protocol.config) equals the current config's; otherwise it refuses, naming
the differing fields, or with `overwrite` discards the old results and recomputes them.
"""

import pathlib
import sys
import time
from typing import Optional

import jax
import numpy as np

from latpred import __version__, metrics
from latpred.adapt import ensemble, stacking, transfer
from latpred.data import tables
from latpred.model import build
from latpred.protocol import config as config_lib
from latpred.protocol import plots, report, samplers, tasks
from latpred.protocol.records import Records, stale_error
from latpred.spaces import encodings
from latpred.train import checkpoints, loop, synthetic
from latpred.train import mesh


def log(msg):
  """A progress line on stderr (flushed)."""
  print(msg, file=sys.stderr, flush=True)


def resolve_task(config) -> tasks.Task:
  d = config.data
  if d.train_hw or d.test_hw:
    if not d.space:
      raise ValueError("a custom task (--config.data.train_hw/test_hw) needs --config.data.space")
    return tasks.custom_task(d.space, d.train_hw.split(","), d.test_hw.split(","))
  return tasks.get_task(d.task)


def trial_seed(config, trial: int) -> int:
  """The base seed of `trial` (pretraining, target samples, fine-tuning derive from it)."""
  return config.seed + 1000 * trial


def checkpoint_meta(s: build.Setup, task_name: str, train_hw) -> dict:
  """The JSON saved beside every pretrained member (LatencyPredictor.load reads it)."""
  return {"config": s.config.to_dict(), "hw_names": list(s.table.hw_names),
          "space": s.space.name, "graph_variant": s.space.graph_variant,
          "encoding": s.encoding, "encoding_version": encodings.VERSION,
          "latpred_version": __version__, "train_hw": list(train_hw),
          "pretrain_signature": config_lib.pretrain_signature(s.config, task_name, s.space.name,
                                                              train_hw)}


def target_samples(s: build.Setup, trial: int, hw_id: int) -> np.ndarray:
  """The m architectures measured on target `hw_id` in `trial` (every method uses the same)."""
  t = s.config.transfer
  return samplers.sample(t.sampler, t.num_samples, trial_seed(s.config, trial) + 1 + hw_id,
                         pool=np.arange(s.space.num_archs), **s.sample_kwargs(hw_id))


def _restore_member(s: build.Setup, meta: dict, pretrained_dir, trial: int, member: int,
                    seed: int, overwrite: bool, placement: mesh.Runs):
  """(params, seconds) of a saved member with the current signature, else None (a stale one is
  refused, or deleted with `overwrite`)."""
  step = checkpoints.member_step(trial, member)
  like = jax.eval_shape(lambda: build.init_params(s.model, s.space, s.supp, seed))  # no compile
  restored = checkpoints.restore(pretrained_dir, step, like)
  if restored is None:
    return None
  params, saved = restored
  if saved.get("pretrain_signature") == meta["pretrain_signature"]:
    return params, saved.get("pretrain_s") or 0.0
  if not overwrite:
    raise stale_error(f"{pretrained_dir} (trial {trial}, member {member})",
                      saved.get("pretrain_signature") or {}, meta["pretrain_signature"])
  if placement.is_writer():
    checkpoints.delete(pretrained_dir, step)
  placement.barrier(f"deleted {pretrained_dir} {step}")
  return None


def member_seed(config, trial: int, member: int) -> int:
  """Ensemble member k of `trial` starts from seed trial_seed + 7919 k."""
  return trial_seed(config, trial) + 7919 * member


def synthetic_seed(config, trial: int) -> list:
  """The seed of `trial`'s synthetic devices (saved in its checkpoints' metadata)."""
  return [trial_seed(config, trial), 1]


def pretrain_devices(s: build.Setup, trial: int) -> tuple[np.ndarray, np.ndarray]:
  """The hardware-table rows [H] pretraining ranks on in `trial` and their latencies [H, A]:
  the training devices', then the trial's synthetic devices' (`config.pretrain.
  synthetic_devices`, `stacking.synthetic_devices`)."""
  rows, latency = stacking.synthetic_devices(
      s.space, s.table.latency_ms_HxA[s.train_ids], s.table.num_hw,
      s.config.pretrain.get("synthetic_devices", 0), synthetic_seed(s.config, trial))
  return (np.concatenate([s.train_ids, rows]).astype(np.int32),
          np.concatenate([s.table.latency_ms_HxA[s.train_ids], latency]))


def pretrain_runs(s: build.Setup, meta: dict, pretrained_dir, trials, placement: mesh.Runs,
                  overwrite: bool = False) -> dict:
  """{(trial, member): (params, seconds)} for every ensemble member of `trials`: restored when
  checkpointed with the current signature, else trained and saved. Without a mesh the missing
  members train one after the other; with one, all of them (trials x members) train as one
  vmapped program sharded over its devices, each charged an equal share of the time."""
  p = s.config.pretrain
  out, missing = {}, []
  for trial in trials:
    for k in range(p.ensemble_size):
      seed = member_seed(s.config, trial, k)
      restored = _restore_member(s, meta, pretrained_dir, trial, k, seed, overwrite, placement)
      if restored is None:
        missing.append((trial, k, seed))
      else:
        out[(trial, k)] = restored
  if not missing:
    return out
  pool = np.arange(s.space.num_archs)
  archs = [samplers.sample(p.sampler, min(p.samples, len(pool)), seed, pool=pool,
                           **s.sample_kwargs(s.train_ids[0])) for _, _, seed in missing]
  kw = dict(epochs=p.epochs, batch_size=p.batch, lr=p.lr, weight_decay=p.weight_decay,
            final_lr=p.final_lr)
  devices = {t: pretrain_devices(s, t) for t in {t for t, _, _ in missing}}
  groups = [[run] for run in missing] if not placement.vmapped else [missing]
  for group in groups:
    t0 = time.time()
    names = ", ".join(f"trial {t} member {k}" for t, k, _ in group)
    params = loop.fit_runs(
        s.model, [build.init_params(s.model, s.space, s.supp, seed) for _, _, seed in group],
        s.space.graph_set, s.supp, [devices[t][0] for t, _, _ in group],
        [devices[t][1] for t, _, _ in group],
        [archs[missing.index(run)] for run in group], seeds_K=[sd for _, _, sd in group],
        runs=placement, progress=lambda e, l: log(
            f"[{names}] pretrain epoch {e + 1}/{p.epochs} loss {np.mean(l):.4f}"), **kw)
    seconds = (time.time() - t0) / len(group)
    for (trial, k, _), member in zip(group, params):
      if placement.is_writer():
        checkpoints.save(pretrained_dir, checkpoints.member_step(trial, k), member,
                         {**meta, "trial": trial, "member": k, "pretrain_s": seconds,
                          "synthetic_seed": synthetic_seed(s.config, trial)})
      out[(trial, k)] = member, seconds
    placement.barrier(f"saved {pretrained_dir} {names}")
  return out


def pretrain_ensemble(s: build.Setup, meta: dict, pretrained_dir, trial: int,
                      overwrite: bool = False, placement: mesh.Runs = mesh.Runs()):
  """[(params, seconds)] for every ensemble member of `trial` (`pretrain_runs`)."""
  done = pretrain_runs(s, meta, pretrained_dir, [trial], placement, overwrite)
  return [done[(trial, k)] for k in range(s.config.pretrain.ensemble_size)]


def pretrain(config, pretrained_dir, overwrite: bool = False) -> list:
  """Pretrains trial 0's ensemble on `config.data.train_hw` of `config.data.space` (all its
  devices when empty), for users who then adapt to their own device (experiments/pretrain.py)."""
  config_lib.validate(config)
  space = config.data.space
  if not space:
    raise ValueError("pretraining needs --config.data.space (nb201 or fbnet)")
  tables.check_space(space)
  known = tables.hw_names(space)
  train_hw = [h for h in config.data.train_hw.split(",") if h] or list(known)
  unknown = [h for h in train_hw if h not in known]
  if unknown or len(set(train_hw)) != len(train_hw):
    raise ValueError(f"bad --config.data.train_hw {unknown or train_hw}: names must be distinct "
                     f"{space} devices; valid: {', '.join(known)}")
  s = build.make_setup(config, space, train_hw)
  meta = checkpoint_meta(s, "pretrain", train_hw)
  return pretrain_ensemble(s, meta, pathlib.Path(pretrained_dir), 0, overwrite)


def stack_basis(s: build.Setup) -> np.ndarray:
  """The stack's GNN-free columns (`stacking.basis`) for the setup's training devices, with the
  physics columns its config names."""
  return stacking.basis(s.space, s.table.latency_ms_HxA[s.train_ids],
                        stacking.config_physics(s.config.transfer))


def evaluate_target(s: build.Setup, members, trial: int, hw: str, stack_basis,
                    placement: mesh.Runs = mesh.Runs()) -> tuple:
  """Adapts the trial's ensemble to target `hw` (its fine-tunes placed by `placement`) and
  scores it: (row, predicted ms, truth ms)."""
  config = s.config
  t0 = time.time()
  hw_id = s.table.hw_index(hw)
  truth = s.table.latency_ms_HxA[hw_id]
  picks = target_samples(s, trial, hw_id)
  idx = metrics.eval_indices(config.eval.eval_set, s.space.num_archs, picks)
  sources = pretrain_devices(s, trial) if config.transfer.get("copy_synthetic") else (
      s.train_ids, s.table.latency_ms_HxA[s.train_ids])
  adapted = ensemble.adapt_ensemble(
      s.model, members, s.space.graph_set, s.supp, hw_id, picks, truth[picks], *sources,
      transfer.FineTune.from_config(config.transfer),
      seed=trial_seed(config, trial) + hw_id,
      stack_basis_AxK=stack_basis if config.transfer.stack else None,
      stack_folds=config.transfer.stack_folds, stack_loss=config.transfer.stack_loss,
      placement=placement)
  gnn_ms = adapted.gnn_ms(s.model, s.space.graph_set, s.supp, idx)
  pred_ms, extra = gnn_ms, {}
  if adapted.stack is not None:
    pred_ms = adapted.stack.predict(np.column_stack([gnn_ms, stack_basis[idx]]))
    train_hw = [s.table.hw_names[i] for i in s.train_ids]
    physics = stacking.config_physics(config.transfer)
    extra = {"stack_weights": adapted.stack.named_weights(stacking.columns(train_hw, physics))}
  sources = [synthetic.row_name(s.table.hw_names, m.source_hw) for m in adapted.members]
  disconnected = s.space.disconnected_A[idx]
  row = {"trial": trial, "device": hw,
         **metrics.evaluate(pred_ms, truth[idx], disconnected),
         "gnn": metrics.evaluate(gnn_ms, truth[idx], disconnected), **extra,
         "copied_hw_row": sources[0] if len(set(sources)) == 1 else sources,
         "transfer_s": time.time() - t0}
  return row, pred_ms, truth[idx]


def run(config, workdir, pretrained_dir=None, overwrite: bool = False,
        placement: Optional[mesh.Runs] = None) -> dict:
  """Runs the task; returns (and writes to workdir/results.json) the results.

  Pretrained checkpoints go to `pretrained_dir` (default workdir/pretrained); runs that differ
  only in transfer or eval settings may share one. `overwrite` discards stored results of
  another configuration instead of refusing. `config.parallel.devices` chooses the devices
  (`latpred.train.mesh`): with several, every missing pretraining (trials x members) runs as one
  sharded program first, and each target's fine-tunes (members x folds) as another. With
  several processes (jax.distributed) every process runs this function; only process 0 writes.
  `placement` overrides config.parallel (e.g. a benchmark task owned by one process).
  """
  config_lib.validate(config)
  placement = placement or mesh.from_config(config)
  t_start = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  pretrained_dir = pathlib.Path(pretrained_dir or workdir / "pretrained")
  task = resolve_task(config)
  s = build.make_setup(config, task.space, task.train_hw)
  meta = checkpoint_meta(s, task.name, task.train_hw)
  basis = stack_basis(s)
  records = Records(workdir / "trials.jsonl",
                    config_lib.record_signature(config, meta["pretrain_signature"]), overwrite,
                    report.files(workdir), write=placement.is_writer())
  placement.barrier(f"read {workdir}")  # every process sees the same records and checkpoints
  pretrain_s = {}
  pending = [t for t in range(config.num_trials)
             if not all((t, hw) in records for hw in task.test_hw)]
  if placement.vmapped and pending:  # every trial's members in one sharded program
    pretrain_runs(s, meta, pretrained_dir, pending, placement, overwrite)
  for trial in range(config.num_trials):
    if all((trial, hw) in records for hw in task.test_hw):
      saved = [checkpoints.restore_meta(pretrained_dir, step)
               for step in checkpoints.trial_steps(pretrained_dir, trial)]
      pretrain_s[trial] = float(sum(m.get("pretrain_s") or 0.0 for m in saved)) or None
      continue
    members = pretrain_ensemble(s, meta, pretrained_dir, trial, overwrite, placement)
    pretrain_s[trial] = float(sum(sec for _, sec in members))
    for hw in task.test_hw:
      if (trial, hw) in records:
        continue
      row, pred_ms, truth = evaluate_target(s, [p for p, _ in members], trial, hw, basis,
                                            placement)
      records.add(row)
      log(f"[trial {trial}] {hw}: SRCC {row['spearman']:.3f} (GNN alone "
          f"{row['gnn']['spearman']:.3f}), within ±10 % {row['within_10pct']:.1f} %, median "
          f"error {row['median_ape_pct']:.1f} % (row copied from {row['copied_hw_row']}, "
          f"{row['transfer_s']:.1f} s)")
      if trial == 0 and placement.is_writer():
        plots.scatter(pred_ms, truth, workdir / f"scatter_{hw}.png",
                      f"{task.name} -> {hw}, trial 0, {config.transfer.num_samples} samples")
  results = report.summarise(task, config, records.first_trials(config.num_trials), pretrain_s,
                             time.time() - t_start)
  results["ms_from"] = "the adapted ensemble's ms (members' linear maps, then the stack)"
  results["parallel"] = mesh.info(placement)
  if placement.is_writer():
    report.write(workdir, results)
  placement.barrier(f"wrote {workdir}")
  return results
