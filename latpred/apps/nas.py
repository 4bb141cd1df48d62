"""HELP's latency-constrained NAS protocol on NB201 with the 500 MetaD2A candidates (§11).

For a target device, a budget (ms), m and a seed: sample m architectures
(config.transfer.sampler), adapt the pretrained predictor to their measured latencies, predict
the candidates' latency in ms, walk the candidates in file order keeping the first 3 predicted
to meet the budget, choose the most accurate; report its measured latency, whether it meets
the budget, its accuracy, and the cost (measurement count, adaptation seconds, search seconds).
The pretrained predictor's training devices must exclude the target.

`safety_quantile` (beyond HELP's rule; 0 = HELP's rule): a candidate counts as predicted to meet
the budget only if its prediction times (1 + q) does, where q is that quantile of the relative
underestimates (measured / leave-one-out predicted - 1, floored at 0) over the target's own m
samples: a margin sized by how wrong the adapted predictor is on that device.

`verify` v (beyond HELP's rule; 0 = HELP's rule): of the m measurements, m - v adapt the
predictor and up to v go to the candidates themselves, through
`search.verified_first_k_choice`: the rule's choice is measured (and replaced while it measures
over the budget), then more accurate candidates the rule walked past as over budget are
measured. A measured choice meets the budget by construction; the rows count the measurements
actually spent.

`calibrate` chooses (v, q) per m on NB201 devices that are never a NAS target.
"""

import json
import pathlib
import time

import numpy as np

from latpred.adapt import ensemble
from latpred.apps import search
from latpred.apps.nas_tables import (
  HELP_RESULTS,
  best_within_budget,
  candidates,
  help_picks,
  markdown,
  oracle_choices,
)
from latpred.data import load_latency_table
from latpred.model import build
from latpred.predict import LatencyPredictor
from latpred.protocol import plots, runner, samplers, tasks

PRETRAIN_TASK = "ND"  # its training devices exclude every device above


def pretrained_predictor(config, pretrained_dir, data_dir=None):
  """(setup, predictor): trial 0's ensemble pretrained on ND's training devices (trained here if
  not saved yet). The config's data.task is set to ND, as the benchmark's ND cells sign their
  checkpoints, so `out/<bench>/nasflat/ND/pretrained` is reused rather than refused."""
  task = tasks.get_task(PRETRAIN_TASK)
  config = config.copy_and_resolve_references()
  config.data.task = PRETRAIN_TASK
  setup = build.make_setup(config, task.space, task.train_hw)
  meta = runner.checkpoint_meta(setup, task.name, task.train_hw)
  runner.pretrain_ensemble(setup, meta, pathlib.Path(pretrained_dir), trial=0)
  return setup, LatencyPredictor.load(pretrained_dir, trial=0, data_dir=data_dir)


def safety_margin(measured_ms, loo_ms, quantile: float) -> float:
  """q >= 0: the `quantile` of measured / predicted - 1 over the samples (0 if quantile is 0)."""
  if quantile <= 0:
    return 0.0
  loo_ms = np.asarray(loo_ms)
  if not 0 < quantile <= 1 or loo_ms.shape != np.shape(measured_ms) or np.isnan(loo_ms).any():
    raise ValueError("safety_quantile needs a value in (0, 1] and a stacked adaptation (at "
                     "least config.transfer.stack_folds samples adapting the predictor)")
  return max(0.0, float(np.quantile(np.asarray(measured_ms) / np.asarray(loo_ms) - 1.0,
                                    quantile)))


# NB201 devices outside ND's training and test lists (so never a NAS target): where the margin
# quantile is chosen (`calibrate`), with budgets at quantiles of the candidates' true latency.
TUNING_DEVICES = ("2080ti_1", "2080ti_256", "2080ti_32", "gold_6240", "titan_rtx_1",
                  "titan_rtx_32", "titanx_1", "titanx_256", "titanx_32", "titanxp_1",
                  "titanxp_256", "titanxp_32")
TUNING_BUDGET_QUANTILES = (0.25, 0.5, 0.75)
QUANTILE_GRID = (0.0, 0.5, 0.75, 0.9, 1.0)
TARGET_MET_RATE = 0.95  # calibrate: the most accurate strategy whose tuning runs meet this often


def verify_grid(m: int) -> tuple:
  """calibrate's verify counts for m samples: 0, 20, 40, 60 % of m (10 -> 0, 2, 4, 6)."""
  return tuple(sorted({0, m // 5, 2 * m // 5, 3 * m // 5}))


def help_budgets(devices) -> dict:
  unknown = [d for d in devices if d not in HELP_RESULTS]
  if unknown:
    raise ValueError(f"no budgets for {unknown}; valid: {', '.join(HELP_RESULTS)}")
  return {hw: [b for b, *_ in HELP_RESULTS[hw]] for hw in devices}


def _per_m(value, m) -> tuple:
  """A grid given for every m (tuple), or per m (dict m -> tuple)."""
  return tuple(value[m] if isinstance(value, dict) else value)


def evaluate(config, setup, predictor, budgets: dict, sample_counts, seeds, quantiles=(0.0,),
             data_dir=None, log=print, verify=(0,)) -> list[dict]:
  """One row per (device, budget, m, seed, verify, safety quantile): adapts once per (device, m,
  seed, verify), predicts the candidates once, and applies every budget and quantile to that
  prediction. `quantiles`, `verify`: a tuple for every m, or a dict m -> tuple.

  verify v > 0: m - v samples adapt the predictor and up to v measurements go to candidates
  (`search.verified_first_k_choice`; candidates among the samples count as measured); v = 0 is
  HELP's rule on predictions alone."""
  table = load_latency_table("nb201", data_dir)
  cand_archs, cand_acc, cand_idx = candidates(data_dir)
  cand_pos = {int(i): p for p, i in enumerate(cand_idx)}
  space = predictor.space
  rows = []
  for hw, device_budgets in budgets.items():
    truth = table.latency_ms(hw).astype(np.float64)
    for m in sample_counts:
      qs, vs = _per_m(quantiles, m), _per_m(verify, m)
      bad = [v for v in vs if not 0 <= v <= m - 3]
      if bad:
        raise ValueError(f"verify {bad} must lie in [0, m - 3] = [0, {m - 3}] (m = {m})")
      for seed in seeds:
        for v in vs:
          picks = samplers.sample(config.transfer.sampler, m - v, seed,
                                  pool=np.arange(space.num_archs),
                                  **setup.sample_kwargs(table.hw_index(hw)))
          t0 = time.time()
          adapted = predictor.adapt(hw, [space.arch_names[i] for i in picks], truth[picks],
                                    seed=seed)
          adapt_s = time.time() - t0
          loo = adapted.loo_predictions(hw) if any(qs) else None
          loo_s = time.time() - t0 - adapt_s
          t1 = time.time()
          predicted = adapted.predict_ms_indices(cand_idx, hw)  # shared by budgets, quantiles
          predict_s = time.time() - t1
          known = {cand_pos[int(i)]: float(truth[i]) for i in picks if int(i) in cand_pos}
          for q in qs:
            margin = safety_margin(truth[picks], loo, q) if q else 0.0
            for budget in device_budgets:
              t2 = time.time()
              if v:
                pick = search.verified_first_k_choice(
                    predicted * (1 + margin), cand_acc, budget,
                    lambda p, t=truth: t[cand_idx[p]], v, known=known)
                chosen, kept, spent, verified = pick.chosen, pick.kept, pick.spent, pick.verified
              else:
                chosen, kept = search.first_k_choice(predicted * (1 + margin), cand_acc, budget)
                spent, verified = 0, False
              row = {"device": hw, "budget_ms": budget, "num_samples": m, "seed": seed,
                     "verify": v, "measurements": m - v + spent,
                     "adapt_s": adapt_s + (loo_s if q else 0.0),
                     "search_s": predict_s + time.time() - t2,  # one budget: predict + walk
                     "safety_quantile": q, "margin": margin, "kept": [int(k) for k in kept],
                     "verified": verified}
              if chosen is None:
                row.update(arch=None, true_latency_ms=None, meets_budget=None, accuracy=None)
              else:
                true = float(truth[cand_idx[chosen]])
                row.update(arch=cand_archs[chosen],
                           predicted_latency_ms=float(predicted[chosen]),
                           true_latency_ms=true, meets_budget=bool(true <= budget),
                           accuracy=float(cand_acc[chosen]))
              rows.append(row)
          log(f"{hw} m={m} seed={seed} verify={v}: " + ", ".join(
              f"q={r['safety_quantile']} {r['budget_ms']} ms -> "
              f"{r['true_latency_ms'] and round(r['true_latency_ms'], 2)} ms"
              for r in rows[-len(device_budgets) * len(qs):]))
  return rows


def run(config, workdir, pretrained_dir=None, devices=tuple(HELP_RESULTS),
        sample_counts=(10, 20), seeds=range(5), safety_quantile=0.0, verify=0,
        log=print) -> list[dict]:
  """Runs the protocol at HELP's budgets; writes workdir/nas.json, nas.md, pareto_<device>.png.
  `safety_quantile`, `verify`: one value, or a dict m -> value (as `calibrate` chooses)."""
  workdir = pathlib.Path(workdir)
  budgets = help_budgets(devices)
  workdir.mkdir(parents=True, exist_ok=True)
  data_dir = config.data.data_dir or None
  setup, predictor = pretrained_predictor(config, pretrained_dir or workdir / "pretrained",
                                         data_dir)

  def per_m(value):
    return {m: (value[m],) for m in sample_counts} if isinstance(value, dict) else (value,)
  rows = evaluate(config, setup, predictor, budgets, sample_counts, seeds,
                  per_m(safety_quantile), data_dir, log, per_m(verify))
  table = load_latency_table("nb201", data_dir)
  _, cand_acc, cand_idx = candidates(data_dir)
  for hw in budgets:
    chosen_pts = [(r["budget_ms"], r["true_latency_ms"], r["accuracy"], r["num_samples"])
                  for r in rows if r["device"] == hw and r["arch"] is not None
                  and r["num_samples"] == max(sample_counts)]
    plots.latency_accuracy_pareto(table.latency_ms(hw)[cand_idx], cand_acc, chosen_pts,
                                  workdir / f"pareto_{hw}.png",
                                  f"{hw}: MetaD2A candidates; chosen at m={max(sample_counts)}, "
                                  f"{len(list(seeds))} seeds")
  (workdir / "nas.json").write_text(json.dumps(rows, indent=2))
  (workdir / "nas.md").write_text(markdown(rows, oracle_choices(data_dir), help_picks(data_dir),
                                           best_within_budget(data_dir)))
  return rows


def tuning_budgets(devices=TUNING_DEVICES, data_dir=None) -> dict:
  """Budgets (ms, 2 decimals) of each tuning device at TUNING_BUDGET_QUANTILES of the MetaD2A
  candidates' measured latency on it."""
  table = load_latency_table("nb201", data_dir)
  idx = candidates(data_dir)[2]
  return {hw: [round(float(np.quantile(table.latency_ms(hw)[idx], q)), 2)
               for q in TUNING_BUDGET_QUANTILES] for hw in devices}


def calibrate(config, workdir, pretrained_dir=None, devices=TUNING_DEVICES,
              sample_counts=(10, 20), seeds=range(3), quantiles=QUANTILE_GRID,
              verify=None, log=print) -> dict:
  """Chooses the strategy (verify count, safety quantile) per sample count on the tuning devices
  (never a NAS target): the most accurate on average among those whose runs meet the budget at
  least TARGET_MET_RATE of the time (ties: fewer verifications, smaller quantile; if none
  meets it, the highest met rate). `verify`: a tuple for every m, a dict m -> tuple, or None
  for `verify_grid(m)`.
  Writes workdir/calibration.json and calibration.md."""
  workdir = pathlib.Path(workdir)
  overlap = [d for d in devices if d in HELP_RESULTS]
  if overlap:
    raise ValueError(f"{overlap} are NAS targets; calibrating on them would tune on the test")
  data_dir = config.data.data_dir or None
  setup, predictor = pretrained_predictor(config, pretrained_dir or workdir / "pretrained",
                                         data_dir)
  verify = {m: tuple(v for v in (verify_grid(m) if verify is None else _per_m(verify, m))
                     if v <= m - 3) for m in sample_counts}
  budgets = tuning_budgets(devices, data_dir)
  # a margin needs a stacked adaptation of the m - v samples; with fewer, q = 0 only
  stacked = {m: tuple(v for v in verify[m] if ensemble.stacks(config.transfer, m - v))
             for m in verify}
  rows = []
  for m in sample_counts:
    if stacked[m]:
      rows += evaluate(config, setup, predictor, budgets, (m,), seeds, quantiles, data_dir,
                       log, stacked)
    rest = tuple(v for v in verify[m] if v not in stacked[m])
    if rest:
      rows += evaluate(config, setup, predictor, budgets, (m,), seeds, (0.0,), data_dir, log,
                       rest)
  combos = {(r["num_samples"], r["verify"], r["safety_quantile"]) for r in rows}
  summary = []
  for m, v, q in sorted(combos):
    rs = [r for r in rows if (r["num_samples"], r["verify"], r["safety_quantile"]) == (m, v, q)]
    found = [r for r in rs if r["arch"] is not None]
    summary.append({"num_samples": m, "verify": v, "safety_quantile": q, "runs": len(rs),
                    "met_rate": sum(bool(r["meets_budget"]) for r in found) / len(rs),
                    "measurements": float(np.mean([r["measurements"] for r in rs])),
                    "accuracy": float(np.mean([r["accuracy"] for r in found]))
                    if found else None})
  chosen = {}
  for m in sample_counts:
    mine = [s for s in summary if s["num_samples"] == m]
    ok = [s for s in mine if s["met_rate"] >= TARGET_MET_RATE and s["accuracy"] is not None]
    best = (max(ok, key=lambda s: (s["accuracy"], -s["verify"], -s["safety_quantile"]))
            if ok else max(mine, key=lambda s: (s["met_rate"], -s["verify"])))
    chosen[m] = {"verify": best["verify"], "safety_quantile": best["safety_quantile"]}
  out = {"devices": list(devices), "budget_quantiles": list(TUNING_BUDGET_QUANTILES),
         "target_met_rate": TARGET_MET_RATE, "summary": summary, "chosen": chosen, "rows": rows}
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "calibration.json").write_text(json.dumps(out, indent=2))
  lines = [(f"Tuning devices: {', '.join(devices)}; budgets at the "
            f"{'/'.join(str(q) for q in TUNING_BUDGET_QUANTILES)} quantiles of the candidates' "
            f"measured latency; {len(list(seeds))} seeds. verify v: m - v samples adapt the "
            "predictor, up to v measure candidates."), "",
           ("| m | verify | safety quantile | budget met | measurements (mean) | "
            "mean accuracy (%) |"), "|---|---|---|---|---|---|"]
  for s in summary:
    pick = chosen[s["num_samples"]]
    mark = (" **(chosen)**" if (pick["verify"], pick["safety_quantile"])
            == (s["verify"], s["safety_quantile"]) else "")
    acc = "" if s["accuracy"] is None else f"{s['accuracy']:.2f}"
    lines.append(f"| {s['num_samples']} | {s['verify']} | {s['safety_quantile']}{mark} | "
                 f"{s['met_rate']:.0%} of {s['runs']} | {s['measurements']:.1f} | {acc} |")
  (workdir / "calibration.md").write_text("\n".join(lines) + "\n")
  return out


