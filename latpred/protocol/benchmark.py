"""The benchmark: a method over tasks x target-sample counts x trials, with a table and plot.

Pretraining does not depend on the number of target samples, so each task pretrains once per
trial and every sample count reuses that checkpoint.
"""

import json
import pathlib
import time

import numpy as np

from latpred import metrics
from latpred.data import load_latency_table
from latpred.protocol import baseline_runner, plots, runner, tasks
from latpred.spaces import load_space

# NASFLAT §9 reference SRCC at 20 samples (NASFLAT's own column was scored on architectures
# 0-127 with chained fine-tuning; HELP and MultiPredict on all architectures).
REFERENCE = {
    "ND": {"HELP": 0.948, "MultiPredict": 0.930, "NASFLAT": 0.959},
    "FD": {"HELP": 0.91, "MultiPredict": 0.960, "NASFLAT": 0.961},
    "FA": {"HELP": 0.37, "MultiPredict": 0.45, "NASFLAT": 0.577},
    "F1": {"HELP": 0.793, "MultiPredict": 0.756, "NASFLAT": 0.809},
    "F2": {"HELP": 0.543, "MultiPredict": 0.567, "NASFLAT": 0.871},
    "F3": {"HELP": 0.413, "MultiPredict": 0.434, "NASFLAT": 0.814},
    "F4": {"HELP": 0.799, "MultiPredict": 0.763, "NASFLAT": 0.734},
}
METHODS = ("nasflat",) + baseline_runner.METHODS


def flops_srcc(task, data_dir=None) -> float:
  """Mean SRCC over the task's targets of ranking by FLOPs (no training, no samples)."""
  space = load_space(task.space, data_dir)
  table = load_latency_table(task.space, data_dir)
  return float(np.mean([metrics.spearman(space.mflops_A, table.latency_ms(hw))
                        for hw in task.test_hw]))


def run(config, workdir, methods, task_names, sample_counts, progress=print,
        overwrite: bool = False) -> list[dict]:
  """Runs every (method, task, samples) and writes benchmark.json / benchmark.md / PNG.

  Each cell resumes from its records only when their signature matches (else it refuses,
  naming the differing fields, or with `overwrite` recomputes).
  """
  for m in methods:
    if m not in METHODS:
      raise ValueError(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
  for name in task_names:  # fail on an unknown name before any work
    tasks.get_task(name)
  workdir = pathlib.Path(workdir)
  runs = []
  for name in task_names:
    for method in methods:
      for m in sample_counts:
        cfg = config.copy_and_resolve_references()
        cfg.data.task, cfg.transfer.num_samples = name, m
        t0 = time.time()
        if method == "nasflat":
          res = runner.run(cfg, workdir / method / name / f"m{m}",
                           pretrained_dir=workdir / method / name / "pretrained",
                           overwrite=overwrite)
        else:
          res = baseline_runner.run(method, cfg, workdir / method / name / f"m{m}", overwrite)
        res = {**res, "run_wall_s": time.time() - t0}  # this invocation (~0 if read back)
        runs.append(res)
        progress(f"{method} {name} m={m}: SRCC {res['task_spearman_mean']:.3f} "
                 f"({time.time() - t0:.0f} s)")
  flops = {name: flops_srcc(tasks.get_task(name), config.data.data_dir or None)
           for name in task_names}
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "benchmark.json").write_text(json.dumps(runs, indent=2))
  (workdir / "benchmark.md").write_text(markdown(runs, flops))
  plots.srcc_vs_samples(runs, flops, workdir / "srcc_vs_samples.png")
  return runs


def markdown(runs, flops) -> str:
  counts = sorted({r["num_samples"] for r in runs})
  head = ("| task | method | " + " | ".join(f"SRCC m={m}" for m in counts) +
          " | FLOPs (no training) | HELP | MultiPredict | NASFLAT (paper) |")
  lines = ["# Benchmark (mean Spearman over target devices; mean ± std over trials)", "",
           "Evaluation over all architectures of the space unless the run's eval_set says "
           "otherwise. Reference columns: method.md §9 (20 samples; NASFLAT's own number was "
           "scored on architectures 0-127).", "", head,
           "|" + "---|" * (len(counts) + 6)]
  for task in dict.fromkeys(r["task"] for r in runs):
    for method in dict.fromkeys(r["method"] for r in runs):
      cells = []
      for m in counts:
        match = [r for r in runs if (r["task"], r["method"], r["num_samples"]) == (task, method, m)]
        if match:
          per_trial = np.mean([v["spearman"] for v in match[0]["per_device"].values()], axis=0)
          cells.append(f"{np.mean(per_trial):.3f} ± {np.std(per_trial):.3f}")
        else:
          cells.append("")
      ref = REFERENCE.get(task, {})
      lines.append(f"| {task} | {method} | " + " | ".join(cells) +
                   f" | {flops[task]:.3f} | {ref.get('HELP', '')} | "
                   f"{ref.get('MultiPredict', '')} | {ref.get('NASFLAT', '')} |")
  lines += ["", "Wall time per trial on this machine (median over trials; a trial is pretraining "
            "plus transfer and evaluation on every target at the largest sample count):", "",
            "| task | method | training devices | pretrain (s) | trial (s) |",
            "|---|---|---|---|---|"]
  for task in dict.fromkeys(r["task"] for r in runs):
    for method in dict.fromkeys(r["method"] for r in runs):
      match = [r for r in runs if (r["task"], r["method"]) == (task, method)]
      if not match:
        continue
      last = max(match, key=lambda r: r["num_samples"])
      pre, trial = trial_times(last)
      lines.append(f"| {task} | {method} | {len(last['train_hw'])} | {np.median(pre):.0f} | "
                   f"{np.median(trial):.0f} |")
  lines += ["", "Wall time of this invocation per method, every task and sample count (runs read "
            "back from an earlier invocation count ~0):", "", "| method | minutes |", "|---|---|"]
  for method in dict.fromkeys(r["method"] for r in runs):
    minutes = sum(r.get("run_wall_s", 0.0) for r in runs if r["method"] == method) / 60
    lines.append(f"| {method} | {minutes:.1f} |")
  total = sum(r.get("run_wall_s", 0.0) for r in runs) / 60
  lines.append(f"| **all** | **{total:.1f}** |")
  return "\n".join(lines) + "\n"


def trial_times(result) -> tuple[list, list]:
  """(pretraining seconds, whole-trial seconds) per trial of one run's results."""
  pre = [t or 0.0 for t in result["wall_time_s"]["pretrain"]]
  trial = list(pre)
  for key, seconds in result["wall_time_s"]["transfer"].items():
    trial[int(key.rsplit("trial", 1)[1])] += seconds
  return pre, trial
