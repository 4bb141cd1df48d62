"""pretrain -> transfer -> evaluate for every target of a task; resumable; writes results.

A rerun in the same workdir reuses a pretrained checkpoint or a finished target only when its
signature (latpred.protocol.config) equals the current config's; otherwise it refuses, naming
the differing fields, or with `overwrite` discards the old results and recomputes them.
"""

import pathlib
import sys
import time

import numpy as np

from latpred import __version__, metrics
from latpred.adapt import ensemble, stacking, transfer
from latpred.data import tables
from latpred.model import build
from latpred.protocol import config as config_lib
from latpred.protocol import plots, report, samplers, tasks
from latpred.protocol.records import Records, stale_error
from latpred.spaces import encodings
from latpred.train import checkpoints, loop


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


def pretrain_member(s: build.Setup, meta: dict, pretrained_dir, trial: int, member: int,
                    seed: int, overwrite: bool = False):
  """Pretrained parameters of one ensemble member (restored if checkpointed) and seconds."""
  p = s.config.pretrain
  step = checkpoints.member_step(trial, member)
  like = build.init_params(s.model, s.space, s.supp, seed)
  restored = checkpoints.restore(pretrained_dir, step, like)
  if restored is not None:
    params, saved = restored
    if saved.get("pretrain_signature") == meta["pretrain_signature"]:
      return params, saved.get("pretrain_s") or 0.0
    if not overwrite:
      raise stale_error(f"{pretrained_dir} (trial {trial}, member {member})",
                        saved.get("pretrain_signature") or {}, meta["pretrain_signature"])
    checkpoints.delete(pretrained_dir, step)
  t0 = time.time()
  pool = np.arange(s.space.num_archs)
  archs = samplers.sample(p.sampler, min(p.samples, len(pool)), seed, pool=pool,
                          **s.sample_kwargs(s.train_ids[0]))
  params, _ = loop.fit(
      s.model, like, s.space.graph_set, s.supp, s.train_ids,
      s.table.latency_ms_HxA[s.train_ids], archs, epochs=p.epochs, batch_size=p.batch, lr=p.lr,
      weight_decay=p.weight_decay, final_lr=p.final_lr, seed=seed,
      progress=lambda e, l: log(f"[trial {trial} member {member}] pretrain epoch {e + 1}/"
                                 f"{p.epochs} loss {l:.4f}"))
  seconds = time.time() - t0
  checkpoints.save(pretrained_dir, step, params,
                   {**meta, "trial": trial, "member": member, "pretrain_s": seconds})
  return params, seconds


def pretrain_ensemble(s: build.Setup, meta: dict, pretrained_dir, trial: int,
                      overwrite: bool = False):
  """[(params, seconds)] for every ensemble member of `trial` (member k: seed + 7919 k)."""
  seed = trial_seed(s.config, trial)
  return [pretrain_member(s, meta, pretrained_dir, trial, k, seed + 7919 * k, overwrite)
          for k in range(s.config.pretrain.ensemble_size)]


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


def evaluate_target(s: build.Setup, members, trial: int, hw: str, stack_basis) -> tuple:
  """Adapts the trial's ensemble to target `hw` and scores it: (row, predicted ms, truth ms)."""
  config = s.config
  t0 = time.time()
  hw_id = s.table.hw_index(hw)
  truth = s.table.latency_ms_HxA[hw_id]
  picks = target_samples(s, trial, hw_id)
  idx = metrics.eval_indices(config.eval.eval_set, s.space.num_archs, picks)
  adapted = ensemble.adapt_ensemble(
      s.model, members, s.space.graph_set, s.supp, hw_id, picks, truth[picks], s.train_ids,
      s.table.latency_ms_HxA[s.train_ids], transfer.FineTune.from_config(config.transfer),
      seed=trial_seed(config, trial) + hw_id,
      stack_basis_AxK=stack_basis if config.transfer.stack else None,
      stack_folds=config.transfer.stack_folds)
  gnn_ms = adapted.gnn_ms(s.model, s.space.graph_set, s.supp, idx)
  pred_ms, extra = gnn_ms, {}
  if adapted.stack is not None:
    pred_ms = adapted.stack.predict(np.column_stack([gnn_ms, stack_basis[idx]]))
    train_hw = [s.table.hw_names[i] for i in s.train_ids]
    extra = {"stack_weights": adapted.stack.named_weights(stacking.columns(train_hw))}
  sources = [s.table.hw_names[m.source_hw] for m in adapted.members]
  disconnected = s.space.disconnected_A[idx]
  row = {"trial": trial, "device": hw,
         **metrics.evaluate(pred_ms, truth[idx], disconnected),
         "gnn": metrics.evaluate(gnn_ms, truth[idx], disconnected), **extra,
         "copied_hw_row": sources[0] if len(set(sources)) == 1 else sources,
         "transfer_s": time.time() - t0}
  return row, pred_ms, truth[idx]


def run(config, workdir, pretrained_dir=None, overwrite: bool = False) -> dict:
  """Runs the task; returns (and writes to workdir/results.json) the results.

  Pretrained checkpoints go to `pretrained_dir` (default workdir/pretrained); runs that differ
  only in transfer or eval settings may share one. `overwrite` discards stored results of
  another configuration instead of refusing.
  """
  config_lib.validate(config)
  t_start = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  pretrained_dir = pathlib.Path(pretrained_dir or workdir / "pretrained")
  task = resolve_task(config)
  s = build.make_setup(config, task.space, task.train_hw)
  meta = checkpoint_meta(s, task.name, task.train_hw)
  stack_basis = stacking.basis(s.space, s.table.latency_ms_HxA[s.train_ids])
  records = Records(workdir / "trials.jsonl",
                    config_lib.record_signature(config, meta["pretrain_signature"]), overwrite,
                    report.files(workdir))
  pretrain_s = {}
  for trial in range(config.num_trials):
    if all((trial, hw) in records for hw in task.test_hw):
      saved = [checkpoints.restore_meta(pretrained_dir, step)
               for step in checkpoints.trial_steps(pretrained_dir, trial)]
      pretrain_s[trial] = float(sum(m.get("pretrain_s") or 0.0 for m in saved)) or None
      continue
    members = pretrain_ensemble(s, meta, pretrained_dir, trial, overwrite)
    pretrain_s[trial] = float(sum(sec for _, sec in members))
    for hw in task.test_hw:
      if (trial, hw) in records:
        continue
      row, pred_ms, truth = evaluate_target(s, [p for p, _ in members], trial, hw, stack_basis)
      records.add(row)
      log(f"[trial {trial}] {hw}: SRCC {row['spearman']:.3f} (GNN alone "
          f"{row['gnn']['spearman']:.3f}), within ±10 % {row['within_10pct']:.1f} %, median "
          f"error {row['median_ape_pct']:.1f} % (row copied from {row['copied_hw_row']}, "
          f"{row['transfer_s']:.1f} s)")
      if trial == 0:
        plots.scatter(pred_ms, truth, workdir / f"scatter_{hw}.png",
                      f"{task.name} -> {hw}, trial 0, {config.transfer.num_samples} samples")
  results = report.summarise(task, config, records.first_trials(config.num_trials), pretrain_s,
                             time.time() - t_start)
  results["ms_from"] = "the adapted ensemble's ms (members' linear maps, then the stack)"
  report.write(workdir, results)
  return results
