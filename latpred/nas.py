"""HELP's latency-constrained NAS protocol on NB201 with the 500 MetaD2A candidates (§11).

For a target device, a budget (ms), m and a seed: sample m architectures (config.sampler), adapt
the pretrained predictor to their measured latencies, predict the candidates' latency in ms,
walk the candidates in file order keeping the first 3 predicted to meet the budget, choose the
most accurate; report its measured latency, whether it meets the budget, its accuracy, and the
cost (measurement count, adaptation seconds, search seconds). The pretrained predictor's
training devices must exclude the target.

`safety_quantile` (beyond HELP's rule; 0 = HELP's rule): a candidate counts as predicted to meet
the budget only if its prediction times (1 + q) does, where q is that quantile of the relative
underestimates (measured / leave-one-out predicted - 1, floored at 0) over the target's own m
samples: a margin sized by how wrong the adapted predictor is on that device.
"""

import json
import pathlib
import time

import numpy as np

from latpred import plots, runner, samplers, search, tasks
from latpred.data import load_latency_table, tables
from latpred.predict import LatencyPredictor

# HELP's published NB201 NAS results (method.md §11; 10 samples + 10 reference latencies):
# device -> [(budget ms, chosen latency ms, accuracy %)].
HELP_RESULTS = {
    "titan_rtx_256": [(18, 17.8, 69.7), (21, 18.9, 71.5), (25, 24.2, 71.8)],
    "gold_6226": [(8, 8.0, 67.3), (11, 10.7, 70.2), (14, 14.3, 72.1)],
    "pixel2": [(14, 13.0, 69.7), (18, 19.0, 71.8), (22, 25.0, 73.2)],
    "eyeriss": [(5, 3.9, 71.5), (7, 5.1, 71.8), (9, 9.1, 73.5)],
    "fpga": [(4, 3.8, 70.2), (5, 4.7, 71.8), (6, 7.4, 73.5)],
}
PRETRAIN_TASK = "ND"  # its training devices exclude every device above


def pretrained_predictor(config, pretrained_dir, data_dir=None):
  """(setup, predictor): trial 0's ensemble pretrained on ND's training devices (trained here if
  not saved yet)."""
  task = tasks.get_task(PRETRAIN_TASK)
  setup = runner.make_setup(config, task.name, task.space, task.train_hw)
  runner.pretrain_ensemble(setup, pathlib.Path(pretrained_dir), trial=0)
  return setup, LatencyPredictor.load(pretrained_dir, trial=0, data_dir=data_dir)


def safety_margin(measured_ms, loo_ms, quantile: float) -> float:
  """q >= 0: the `quantile` of measured / predicted - 1 over the samples (0 if quantile is 0)."""
  if quantile <= 0:
    return 0.0
  if not 0 < quantile <= 1 or np.isnan(loo_ms).any():
    raise ValueError("safety_quantile needs a stacked adaptation and a value in (0, 1]")
  return max(0.0, float(np.quantile(np.asarray(measured_ms) / np.asarray(loo_ms) - 1.0,
                                    quantile)))


def run(config, workdir, pretrained_dir=None, devices=tuple(HELP_RESULTS),
        sample_counts=(10, 20), seeds=range(5), safety_quantile: float = 0.0,
        log=print) -> list[dict]:
  """Runs the protocol; writes workdir/nas.json, nas.md and pareto_<device>.png."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data_dir = config.data_dir or None
  unknown = [d for d in devices if d not in HELP_RESULTS]
  if unknown:
    raise ValueError(f"no budgets for {unknown}; valid: {', '.join(HELP_RESULTS)}")
  setup, predictor = pretrained_predictor(config, pretrained_dir or workdir / "pretrained",
                                         data_dir)
  table = load_latency_table("nb201", data_dir)
  cand_archs, cand_acc = tables.load_metad2a_candidates(data_dir)
  cand_idx = predictor.space.indices_of(cand_archs)
  space = predictor.space
  rows = []
  for hw in devices:
    truth = table.latency_ms(hw).astype(np.float64)
    for m in sample_counts:
      for seed in seeds:
        picks = samplers.sample(config.sampler, m, seed, pool=np.arange(space.num_archs),
                                **setup.sample_kwargs(table.hw_index(hw)))
        t0 = time.time()
        names = [space.arch_names[i] for i in picks]
        adapted = predictor.adapt(hw, names, truth[picks], seed=seed)
        margin = safety_margin(truth[picks], adapted.loo_predictions(hw),
                               safety_quantile) if safety_quantile else 0.0
        adapt_s = time.time() - t0
        t1 = time.time()
        predicted = adapted.predict_ms_indices(cand_idx, hw)  # shared by the budgets
        predict_s = time.time() - t1
        for budget, *_ in HELP_RESULTS[hw]:
          t2 = time.time()
          chosen, kept = search.first_k_choice(predicted * (1 + margin), cand_acc, budget)
          search_s = predict_s + time.time() - t2  # one budget's search: predict + walk
          row = {"device": hw, "budget_ms": budget, "num_samples": m, "seed": seed,
                 "measurements": m, "adapt_s": adapt_s, "search_s": search_s,
                 "safety_quantile": safety_quantile, "margin": margin,
                 "kept": [int(k) for k in kept]}
          if chosen is None:
            row.update(arch=None, true_latency_ms=None, meets_budget=None, accuracy=None)
          else:
            true = float(truth[cand_idx[chosen]])
            row.update(arch=cand_archs[chosen], predicted_latency_ms=float(predicted[chosen]),
                       true_latency_ms=true, meets_budget=bool(true <= budget),
                       accuracy=float(cand_acc[chosen]))
          rows.append(row)
        log(f"{hw} m={m} seed={seed}: " + ", ".join(
            f"{r['budget_ms']} ms -> {r['true_latency_ms'] and round(r['true_latency_ms'], 2)} "
            f"ms, {r['accuracy']}" for r in rows[-len(HELP_RESULTS[hw]):]))
    chosen_pts = [(r["budget_ms"], r["true_latency_ms"], r["accuracy"], r["num_samples"])
                  for r in rows if r["device"] == hw and r["arch"] is not None
                  and r["num_samples"] == max(sample_counts)]
    plots.latency_accuracy_pareto(truth[cand_idx], cand_acc, chosen_pts,
                                  workdir / f"pareto_{hw}.png",
                                  f"{hw}: MetaD2A candidates; chosen at m={max(sample_counts)}, "
                                  f"{len(list(seeds))} seeds")
  (workdir / "nas.json").write_text(json.dumps(rows, indent=2))
  (workdir / "nas.md").write_text(markdown(rows))
  return rows


def summarise(rows) -> list[dict]:
  """Per (device, budget, m): mean true latency, budget met count, mean accuracy, mean costs."""
  out = []
  keys = sorted({(r["device"], r["budget_ms"], r["num_samples"]) for r in rows},
                key=lambda k: (list(HELP_RESULTS).index(k[0]), k[1], k[2]))
  for hw, budget, m in keys:
    rs = [r for r in rows if (r["device"], r["budget_ms"], r["num_samples"]) == (hw, budget, m)]
    found = [r for r in rs if r["arch"] is not None]
    out.append({"device": hw, "budget_ms": budget, "num_samples": m, "runs": len(rs),
                "found": len(found), "met": sum(r["meets_budget"] for r in found),
                "true_latency_ms": float(np.mean([r["true_latency_ms"] for r in found]))
                if found else None,
                "max_true_latency_ms": max((r["true_latency_ms"] for r in found), default=None),
                "accuracy": float(np.mean([r["accuracy"] for r in found])) if found else None,
                "adapt_s": float(np.median([r["adapt_s"] for r in rs])),
                "search_s": float(np.median([r["search_s"] for r in rs]))})
  return out


def markdown(rows) -> str:
  help_lookup = {(hw, b): (lat, acc) for hw, v in HELP_RESULTS.items() for b, lat, acc in v}
  lines = ["| device | budget (ms) | m | budget met | true latency (ms), mean [max] | "
           "accuracy (%) | HELP latency (ms) | HELP accuracy (%) | adapt (s) | search (s) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  for s in summarise(rows):
    lat, acc = help_lookup[(s["device"], s["budget_ms"])]
    help_mark = "" if lat <= s["budget_ms"] else " (over)"
    ours = ("none predicted within budget" if s["true_latency_ms"] is None else
            f"{s['true_latency_ms']:.2f} [{s['max_true_latency_ms']:.2f}]")
    accuracy = "" if s["accuracy"] is None else f"{s['accuracy']:.2f}"
    lines.append(f"| {s['device']} | {s['budget_ms']} | {s['num_samples']} | "
                 f"{s['met']}/{s['runs']} | {ours} | {accuracy} | {lat}{help_mark} | {acc} | "
                 f"{s['adapt_s']:.1f} | {s['search_s']:.2f} |")
  return "\n".join(lines) + "\n"
