"""Baselines under the runner's protocol: the same targets, the same m samples per trial
(`runner.target_samples`), the same evaluation set and the same results.json fields.

  flops, params  rank by MFLOPs / parameter count (no samples, no training)
  nearest        rank by the latency of the training device whose latencies on the m samples
                 correlate best (Spearman) with the target's
  ridge          ridge regression of the target's log-latency on the training devices'
                 log-latencies plus log MFLOPs and log Mparams, fitted on the m samples
                 (columns standardised over the samples, lambda = RIDGE_LAMBDA, not tuned)
  help           HELP (latpred/help.py): a hardware-embedding-conditioned predictor
                 meta-learned over the training devices once per trial, adapted in 2 steps;
                 it also reads the target's latency on its 10 reference architectures
  multipredict   MultiPredict-style MLP with a device embedding (latpred/multipredict.py),
                 pretrained once per trial on config.pretrain_samples architectures
  ceiling        the config's GNN trained from scratch on CEILING_TRAIN_FRACTION of the target's
                 own architectures for CEILING_EPOCHS epochs and scored on the rest: a practical
                 upper limit (it ignores m; its per-target results are cached beside the m runs)
  brpnas         BRP-NAS-style: the config's GNN predictor (no pretraining, no training devices)
                 trained from scratch on the target's m samples with the ranking loss, for
                 BRPNAS_EPOCH_FACTOR x transfer_epochs epochs
"""

import json
import pathlib
import time

import numpy as np

from latpred import checkpoints, multipredict, runner, transfer
from latpred import help as help_lib
from latpred.evaluation import metrics, report
from latpred.train import loop

METHODS = ("flops", "params", "nearest", "ridge", "brpnas", "help", "multipredict", "ceiling")
PRETRAINED = ("multipredict", "help")  # pretrained once per trial on the training devices
CEILING_TRAIN_FRACTION, CEILING_EPOCHS = 0.8, 3
RIDGE_LAMBDA = 1.0
BRPNAS_EPOCH_FACTOR = 5


def ridge_fit_predict(x_AxK, sample_idx, y, lam: float = RIDGE_LAMBDA) -> np.ndarray:
  """Ridge of y on x's rows `sample_idx` (standardised, free intercept); predictions for all."""
  x = np.asarray(x_AxK, np.float64)
  mu, sd = x[sample_idx].mean(0), x[sample_idx].std(0)
  sd = np.where(sd > 0, sd, 1.0)
  z = (x - mu) / sd
  zs, y = z[sample_idx], np.asarray(y, np.float64)
  w = np.linalg.solve(zs.T @ zs + lam * np.eye(z.shape[1]), zs.T @ (y - y.mean()))
  return z @ w + y.mean()


def _from_scratch(s: runner.Setup, hw_id: int, archs, latency_1xA, *, epochs: int, batch: int,
                  lr: float, seed: int):
  """The config's GNN trained from a fresh init on `archs` of one device (ranking loss)."""
  params = runner.init_params(s.model, s.space, s.supp, seed)
  params, _ = loop.fit(s.model, params, s.space.graph_set, s.supp, [hw_id], latency_1xA, archs,
                       epochs=epochs, batch_size=batch, lr=lr, weight_decay=s.config.weight_decay,
                       final_lr=s.config.final_lr, seed=seed)
  return params


def brpnas_scores(s: runner.Setup, hw_id: int, picks, sample_latency_ms, seed: int):
  """Scores of every architecture from the GNN trained on the m samples only."""
  c = s.config
  lat = np.zeros((1, s.space.num_archs), np.float32)
  lat[0, picks] = sample_latency_ms
  params = _from_scratch(s, hw_id, picks, lat, epochs=BRPNAS_EPOCH_FACTOR * c.transfer_epochs,
                         batch=c.transfer_batch, lr=c.transfer_lr, seed=seed)
  return loop.predict(s.model, params, s.space.graph_set, s.supp, hw_id,
                      np.arange(s.space.num_archs))


def ceiling_row(s: runner.Setup, hw_id: int, seed: int) -> dict:
  """Spearman/Kendall on the held-out 20 % after training on 80 % of the target's archs."""
  order = np.random.default_rng(seed).permutation(s.space.num_archs)
  cut = int(CEILING_TRAIN_FRACTION * len(order))
  train, held = order[:cut], order[cut:]
  lat = s.table.latency_ms_HxA[[hw_id]]
  params = _from_scratch(s, hw_id, train, lat, epochs=CEILING_EPOCHS,
                         batch=s.config.pretrain_batch, lr=s.config.lr, seed=seed)
  pred = loop.predict(s.model, params, s.space.graph_set, s.supp, hw_id, held)
  truth = lat[0, held]
  return {"spearman": metrics.spearman(pred, truth), "kendall": metrics.kendall(pred, truth),
          "eval": f"held-out {len(held)} of {s.space.num_archs}"}


def scores(method: str, s: runner.Setup, picks, sample_latency_ms, hw_id: int = 0,
           seed: int = 0) -> tuple[np.ndarray, dict]:
  """Scores (higher = slower) of every architecture for one target, and extra row fields."""
  train_lat = s.table.latency_ms_HxA[s.train_ids].astype(np.float64)
  if method == "flops":
    return s.space.mflops_A, {}
  if method == "params":
    return s.space.mparams_A, {}
  if method == "nearest":
    src = transfer.most_correlated_hw(sample_latency_ms, train_lat[:, picks], s.train_ids)
    return s.table.latency_ms_HxA[src], {"copied_hw_row": s.table.hw_names[src]}
  if method == "ridge":
    x = np.column_stack([np.log(train_lat).T, np.log(s.space.mflops_A),
                         np.log(s.space.mparams_A)])
    return ridge_fit_predict(x, picks, np.log(sample_latency_ms)), {}
  if method == "brpnas":
    return brpnas_scores(s, hw_id, picks, sample_latency_ms, seed), {}
  raise ValueError(f"unknown baseline {method!r}; valid: {', '.join(METHODS)}")


def _trial_seed(config, trial: int) -> int:
  return config.seed + 1000 * trial


def _help_model(s: runner.Setup):
  """HELP's per-architecture inputs and reference-architecture indices for the setup's space."""
  return help_lib.space_inputs(s.space), help_lib.reference_indices(s.space.name,
                                                                   s.config.data_dir or None)


def _pretrain_trial(method: str, s: runner.Setup, trial: int, cache_dir):
  """(context, parameters, seconds) of a method that pretrains once per trial on the training
  devices (multipredict, help), checkpointed in `cache_dir` at step `trial` so that the runs of
  a task at other sample counts reuse it."""
  seed = _trial_seed(s.config, trial)
  if method == "multipredict":
    ctx = multipredict.setup(s.space, s.table, s.config.data_dir or None)
    like = multipredict.init(ctx, seed)

    def train():
      archs = np.random.default_rng(seed).choice(
          s.space.num_archs, min(s.config.pretrain_samples, s.space.num_archs), replace=False)
      return multipredict.pretrain(ctx, like, s.table, s.train_ids, archs, seed)
  else:
    ctx = _help_model(s)
    like = help_lib.init_meta(s.space.name, ctx[0], seed)

    def train():
      return help_lib.meta_train(s.space.name, ctx[0], s.table.latency_ms_HxA, s.train_ids,
                                 ctx[1], seed, episodes=s.config.help_episodes,
                                 log=runner.log)
  signature = {**s.meta["pretrain_signature"], "method": method,
               "help_episodes": s.config.help_episodes}
  restored = checkpoints.restore(cache_dir, trial, like)
  if restored is not None:
    params, meta = restored
    if meta.get("signature") != signature:
      raise ValueError(f"{cache_dir} holds a {method} model for trial {trial} trained with "
                       "another configuration or task; use a new workdir")
    return ctx, params, meta["pretrain_s"]
  t0 = time.time()
  params = train()
  seconds = time.time() - t0
  checkpoints.save(cache_dir, trial, params, {"signature": signature, "pretrain_s": seconds})
  return ctx, params, seconds


def _adapt_trial(method: str, s: runner.Setup, ctx, params, hw_id: int, picks, latency_ms,
                 seed: int) -> tuple[np.ndarray, dict]:
  """Scores of every architecture of a per-trial pretrained method adapted to one target."""
  if method == "multipredict":
    return multipredict.adapt_predict(ctx, params, s.table, s.train_ids, hw_id, picks,
                                      latency_ms, seed), {}
  x_all, ref_idx = ctx
  lat = s.table.latency_ms_HxA[hw_id].astype(np.float64)
  pred = help_lib.adapt_predict(params, x_all, help_lib.hw_embedding(lat[ref_idx]), picks,
                                help_lib.normalise(latency_ms, latency_ms))
  return pred, {"reference_measurements": len(ref_idx)}


def run(method: str, config, workdir) -> dict:
  """Runs a baseline on config's task; writes workdir/results.json and results.md.

  Per-trial models (multipredict, help) and the ceiling's per-target results are kept beside
  `workdir` (in its parent), so runs of the same task at other sample counts reuse them.
  """
  if method not in METHODS:
    raise ValueError(f"unknown baseline {method!r}; valid: {', '.join(METHODS)}")
  workdir = pathlib.Path(workdir)
  done = workdir / "results.json"
  if done.exists():  # resume: a finished run with the same config is read back
    previous = json.loads(done.read_text())
    if previous.get("method") == method and previous.get("config") == config.to_dict():
      return previous
  t_start = time.time()
  task = runner.resolve_task(config)
  s = runner.make_setup(config, task.name, task.space, task.train_hw)
  rows, pretrain_s = {}, {}
  cache_path = workdir.parent / "ceiling_trials.jsonl"  # shared by the m runs of a task
  cache = {}
  if method == "ceiling" and cache_path.exists():
    cache = {(r["trial"], r["device"]): r for r in map(json.loads,
                                                        cache_path.read_text().splitlines())}
  for trial in range(config.num_trials):
    trained = None
    if method in PRETRAINED:
      ctx, params, pretrain_s[trial] = _pretrain_trial(
          method, s, trial, workdir.parent / f"{method}_pretrained")
      trained = (ctx, params)
    for hw in task.test_hw:
      t0 = time.time()
      hw_id = s.table.hw_index(hw)
      truth = s.table.latency_ms_HxA[hw_id]
      picks = runner.target_samples(s, trial, hw_id)
      idx = metrics.eval_indices(config.eval_set, s.space.num_archs, picks)
      if method == "ceiling":
        if (trial, hw) not in cache:
          cache[(trial, hw)] = {"trial": trial, "device": hw, "transfer_s": 0.0,
                                **ceiling_row(s, hw_id, _trial_seed(config, trial) + hw_id)}
          cache[(trial, hw)]["transfer_s"] = time.time() - t0
          workdir.parent.mkdir(parents=True, exist_ok=True)
          with open(cache_path, "a") as f:
            f.write(json.dumps(cache[(trial, hw)]) + "\n")
        rows[(trial, hw)] = cache[(trial, hw)]
        continue
      if trained is not None:
        pred, extra = _adapt_trial(method, s, *trained, hw_id, picks, truth[picks],
                                   _trial_seed(config, trial))
      else:
        pred, extra = scores(method, s, picks, truth[picks], hw_id,
                             seed=_trial_seed(config, trial) + hw_id)
      rows[(trial, hw)] = {"trial": trial, "device": hw,
                           "spearman": metrics.spearman(pred[idx], truth[idx]),
                           "kendall": metrics.kendall(pred[idx], truth[idx]), **extra,
                           "transfer_s": time.time() - t0}
  results = report.summarise(task, config, rows, pretrain_s, time.time() - t_start,
                             method=method)
  if method == "help":
    results["note"] = ("HELP also reads the target's latency on its 10 reference architectures "
                       "(hardware embedding), beyond the m samples")
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  (workdir / "results.md").write_text(report.markdown(results))
  return results
