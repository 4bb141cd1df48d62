"""Baselines under the runner's protocol: the same targets, the same m samples per trial
(`runner.target_samples`), the same evaluation set, the same results.json fields (Spearman,
Kendall and the millisecond errors of `latpred.metrics.evaluate`) and the same resume rule
(records reused only when their signature matches).

Methods: flops, params, nearest, ridge, stack_only (latpred.baselines.simple); brpnas
(latpred.baselines.brpnas); help (latpred.baselines.help: meta-learned over the training devices
once per trial, adapted in 2 steps; it also reads the target's latency on its 10 reference
architectures); multipredict (latpred.baselines.multipredict, pretrained once per trial);
supervised (latpred.baselines.supervised: an upper reference fitted on 80 % of the target's own
architectures and scored on the rest; it ignores m, so its records are shared by a task's
sample counts).

Milliseconds (`MS_FROM`): every method is scored on its prediction in ms; how each one gets there
is recorded in results.json.
"""

import pathlib
import time

import numpy as np

from latpred import metrics
from latpred.adapt import stacking
from latpred.baselines import brpnas, multipredict, simple, supervised
from latpred.baselines import help as help_lib
from latpred.model import build
from latpred.protocol import config as config_lib
from latpred.protocol import report, runner
from latpred.protocol.records import Records, stale_error
from latpred.train import checkpoints

METHODS = simple.METHODS + ("brpnas", "help", "multipredict", "supervised")
PRETRAINED = ("multipredict", "help")  # pretrained once per trial on the training devices
_LINEAR = "a least-squares line through its scores on the m samples"
MS_FROM = {**{m: _LINEAR + " (Spearman/Kendall: its own ranking)" for m in simple.RANK_ONLY},
           "brpnas": _LINEAR,
           "ridge": "exp of its log-latency prediction", "stack_only": "its own prediction",
           "help": "the inverse of HELP's min-max label scaling over the m samples",
           "multipredict": "the inverse of its log-latency standardisation over the m samples",
           "supervised": "its own prediction (lookup table in ms; GNN scores through a line "
                         "fitted on its training architectures)"}


def _pretrain_trial(method: str, s: build.Setup, signature: dict, trial: int, cache_dir,
                    overwrite: bool):
  """(context, parameters, seconds) of a method that pretrains once per trial on the training
  devices (multipredict, help), checkpointed in `cache_dir` at step `trial` so that the runs of
  a task at other sample counts reuse it."""
  seed = runner.trial_seed(s.config, trial)
  if method == "multipredict":
    ctx = multipredict.setup(s.space, s.table, s.data_dir)
    like = multipredict.init(ctx, seed)

    def train():
      archs = np.random.default_rng(seed).choice(
          s.space.num_archs, min(s.config.pretrain.samples, s.space.num_archs), replace=False)
      return multipredict.pretrain(ctx, like, s.table, s.train_ids, archs, seed)
  else:
    ctx = help_lib.space_inputs(s.space), help_lib.reference_indices(s.space.name, s.data_dir)
    like = help_lib.init_meta(s.space.name, ctx[0], seed)

    def train():
      return help_lib.meta_train(s.space.name, ctx[0], s.table.latency_ms_HxA, s.train_ids,
                                 ctx[1], seed, episodes=s.config.baselines.help_episodes,
                                 log=runner.log)
  restored = checkpoints.restore(cache_dir, trial, like)
  if restored is not None:
    params, meta = restored
    if meta.get("signature") == signature:
      return ctx, params, meta["pretrain_s"]
    if not overwrite:
      raise stale_error(f"{cache_dir} (trial {trial})", meta.get("signature") or {}, signature)
    checkpoints.delete(cache_dir, trial)
  t0 = time.time()
  params = train()
  seconds = time.time() - t0
  checkpoints.save(cache_dir, trial, params, {"signature": signature, "pretrain_s": seconds})
  return ctx, params, seconds


def _adapt_trial(method: str, s: build.Setup, ctx, params, hw_id: int, picks, latency_ms,
                 seed: int) -> tuple[np.ndarray, dict]:
  """Milliseconds of every architecture from a per-trial pretrained method adapted to one
  target."""
  if method == "multipredict":
    pred = multipredict.adapt_predict(ctx, params, s.table, s.train_ids, hw_id, picks,
                                      latency_ms, seed)
    return multipredict.to_ms(pred, latency_ms), {}
  x_all, ref_idx = ctx
  lat = s.table.latency_ms_HxA[hw_id].astype(np.float64)
  pred = help_lib.adapt_predict(params, x_all, help_lib.hw_embedding(lat[ref_idx]), picks,
                                help_lib.normalise(latency_ms, latency_ms))
  return help_lib.denormalise(pred, latency_ms), {"reference_measurements": len(ref_idx)}


def _predict_ms(method, s, trained, trial, hw_id, picks, sample_ms) -> tuple[np.ndarray, dict]:
  seed = runner.trial_seed(s.config, trial)
  if trained is not None:
    return _adapt_trial(method, s, *trained, hw_id, picks, sample_ms, seed)
  if method == "brpnas":
    scores = brpnas.brpnas_scores(s, hw_id, picks, sample_ms, seed + hw_id)
    return simple.linear_ms(scores, picks, sample_ms), {}
  return simple.predict_ms(method, s.space, s.table, s.train_ids, picks, sample_ms,
                           stacking.config_physics(s.config.transfer),
                           s.config.transfer.stack_loss)


def _supervised(s: build.Setup, cache: Records, trial: int, hw: str, hw_id: int) -> dict:
  """The supervised record for (trial, hw), from the cache shared by the task's sample counts."""
  if (trial, hw) not in cache:
    t0 = time.time()
    row = supervised.record(s, hw_id, runner.trial_seed(s.config, trial) + hw_id)
    cache.add({"trial": trial, "device": hw, **row, "transfer_s": time.time() - t0})
  return cache[(trial, hw)]


def run(method: str, config, workdir, overwrite: bool = False) -> dict:
  """Runs a baseline on config's task; writes workdir/results.json and results.md.

  Per-trial models (multipredict, help) and the supervised reference's per-target records are
  kept beside `workdir` (in its parent), so runs of the same task at other sample counts reuse
  them.
  """
  if method not in METHODS:
    raise ValueError(f"unknown baseline {method!r}; valid: {', '.join(METHODS)}")
  config_lib.validate(config)
  workdir = pathlib.Path(workdir)
  t_start = time.time()
  task = runner.resolve_task(config)
  s = build.make_setup(config, task.space, task.train_hw)
  pre_sig = {**config_lib.pretrain_signature(config, task.name, task.space, task.train_hw),
             "method": method}
  records = Records(workdir / "trials.jsonl",
                    config_lib.record_signature(config, pre_sig, method), overwrite,
                    report.files(workdir))
  cache = None
  if method == "supervised":  # it ignores m: one cache per task, signed by the pretraining fields
    cache = Records(workdir.parent / "supervised_trials.jsonl", pre_sig, overwrite)
  if method in PRETRAINED:
    pre_sig = {**pre_sig, "baselines": config.baselines.to_dict()}
  pretrain_s = {}
  for trial in range(config.num_trials):
    trained = None
    if method in PRETRAINED:  # restored when checkpointed (its seconds go to the summary)
      ctx, params, pretrain_s[trial] = _pretrain_trial(
          method, s, pre_sig, trial, workdir.parent / f"{method}_pretrained", overwrite)
      trained = (ctx, params)
    for hw in task.test_hw:
      if (trial, hw) in records:
        continue
      hw_id = s.table.hw_index(hw)
      if method == "supervised":
        records.add(_supervised(s, cache, trial, hw, hw_id))
        continue
      t0 = time.time()
      truth = s.table.latency_ms_HxA[hw_id]
      picks = runner.target_samples(s, trial, hw_id)
      idx = metrics.eval_indices(config.eval.eval_set, s.space.num_archs, picks)
      pred_ms, extra = _predict_ms(method, s, trained, trial, hw_id, picks, truth[picks])
      rank = extra.pop("rank_scores", None)
      records.add({"trial": trial, "device": hw,
                   **metrics.evaluate(pred_ms[idx], truth[idx], s.space.disconnected_A[idx],
                                      None if rank is None else np.asarray(rank)[idx]),
                   **extra, "transfer_s": time.time() - t0})
  results = report.summarise(task, config, records.first_trials(config.num_trials), pretrain_s,
                             time.time() - t_start, method=method)
  results["ms_from"] = MS_FROM[method]
  if method == "help":
    results["note"] = ("HELP also reads the target's latency on its 10 reference architectures "
                       "(hardware embedding), beyond the m samples")
  if method == "supervised":
    results["note"] = ("upper reference, not a competitor: fitted on 80 % of the target's own "
                       "architectures, scored on the other 20 %")
  report.write(workdir, results)
  return results

