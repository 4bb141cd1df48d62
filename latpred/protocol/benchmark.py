"""The benchmark: methods over tasks x target-sample counts x trials, with tables of Spearman,
the share within ±10 % and the median error, and a plot of each against m.

Pretraining does not depend on the number of target samples, so each task pretrains once per
trial and every sample count reuses that checkpoint.

Under jax.distributed the tasks are split over the processes the same way (whole tasks, each on
its process's own devices), and process 0 reads the cells back and writes the tables.

With `workers` > 1 the tasks are computed by that many processes, one whole task per process at
a time (no two processes ever work on the same task's folders); the tables are then read back
from the records by the calling process. The training loops are partly dispatch-bound, so two
processes keep a 2-core CPU busier than one.
"""

import concurrent.futures
import json
import multiprocessing
import pathlib
import time
import traceback

import jax
import numpy as np

from latpred import metrics
from latpred.data import load_latency_table
from latpred.protocol import baseline_runner, launch, plots, runner, tasks
from latpred.spaces import load_space
from latpred.train import mesh

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
DERIVED = {"nasflat_gnn": "nasflat"}  # rows read from another method's runs (no extra work)
SINGLE_TRIAL = ("supervised",)  # an 80/20 split per target: trial 0 only (it ignores m)
TABLE_METRICS = (("task_spearman_mean", "Spearman", "{:.3f}"),
                 ("task_within_10pct_mean", "within ±10 % (%)", "{:.1f}"),
                 ("task_median_ape_pct_mean", "median absolute error (%)", "{:.1f}"))


def flops_srcc(task, data_dir=None) -> float:
  """Mean SRCC over the task's targets of ranking by FLOPs (no training, no samples)."""
  space = load_space(task.space, data_dir)
  table = load_latency_table(task.space, data_dir)
  return float(np.mean([metrics.spearman(space.mflops_A, table.latency_ms(hw))
                        for hw in task.test_hw]))


def gnn_run(result: dict) -> dict:
  """A nasflat run's adapted GNN ensemble alone (before the stack), as a run of its own."""
  return {**result, "method": "nasflat_gnn", "per_device": result["gnn"]["per_device"],
          **{k: v for k, v in result["gnn"].items() if k.startswith("task_")},
          "ms_from": "the adapted GNN ensemble's ms (members' linear maps), before the stack",
          "run_wall_s": 0.0}


def run(config, workdir, methods, task_names, sample_counts, progress=print,
        overwrite: bool = False, task_trials=None, workers: int = 1,
        tables: bool = True, placement=None) -> list[dict]:
  """Runs every (method, task, samples) and writes benchmark.json / benchmark.md (rewritten
  after every finished cell) and the PNGs (at the end).

  `workers` > 1: the tasks are first computed in that many processes (`compute_in_workers`),
  then read back here. `tables=False` writes no benchmark.json/md or plots (a worker's run).
  Under jax.distributed (several processes), the tasks are split over the processes
  (`compute_over_processes`) and process 0 reads every cell back and writes the tables; the
  others return []. `placement`: the devices of a process-owned task (`runner.run`).

  `task_trials` {task: trials} overrides config.num_trials for those tasks; `SINGLE_TRIAL`
  methods run trial 0 only. `nasflat_gnn` comes from the nasflat runs (nasflat runs when either
  is asked for). Each cell resumes from its records only when their signature matches (else it
  refuses, naming the differing fields, or with `overwrite` recomputes).
  """
  valid = METHODS + tuple(DERIVED)
  for m in methods:
    if m not in valid:
      raise ValueError(f"unknown method {m!r}; valid: {', '.join(valid)}")
  for name in task_names:  # fail on an unknown name before any work
    tasks.get_task(name)
  task_trials = dict(task_trials or {})
  unknown = set(task_trials) - set(task_names)
  if unknown:
    raise ValueError(f"task_trials names tasks not run: {sorted(unknown)}")
  if workers < 1:
    raise ValueError(f"workers must be >= 1, got {workers}")
  if workers > 1 and len(task_names) > 1:
    compute_in_workers(config, workdir, methods, task_names, sample_counts, overwrite,
                       task_trials, workers, progress)
  if jax.process_count() > 1 and placement is None:  # jax.distributed: process 0 reads back
    compute_over_processes(config, workdir, methods, task_names, sample_counts, overwrite,
                           task_trials, progress)
    if jax.process_index() != 0:
      return []
    placement = mesh.from_config(config, local=True)
  computed = list(dict.fromkeys(DERIVED.get(m, m) for m in methods))
  workdir = pathlib.Path(workdir)
  runs, flops = [], {}
  for name in task_names:
    flops[name] = flops_srcc(tasks.get_task(name), config.data.data_dir or None)
    for method in computed:
      for m in sample_counts:
        cfg = config.copy_and_resolve_references()
        cfg.data.task, cfg.transfer.num_samples = name, m
        cfg.num_trials = 1 if method in SINGLE_TRIAL else task_trials.get(name, cfg.num_trials)
        t0 = time.time()
        if method == "nasflat":
          res = runner.run(cfg, workdir / method / name / f"m{m}",
                           pretrained_dir=workdir / method / name / "pretrained",
                           overwrite=overwrite, placement=placement)
        else:
          res = baseline_runner.run(method, cfg, workdir / method / name / f"m{m}", overwrite)
        res = {**res, "run_wall_s": time.time() - t0}  # this invocation (~0 if read back)
        runs += [res] if method != "nasflat" or "nasflat" in methods else []
        if method == "nasflat" and "nasflat_gnn" in methods:
          runs.append(gnn_run(res))
        progress(f"{method} {name} m={m}: SRCC {res['task_spearman_mean']:.3f}, within ±10 % "
                 f"{res['task_within_10pct_mean']:.1f} % ({time.time() - t0:.0f} s)")
        if tables:
          write(workdir, runs, flops, with_plots=False)
  if tables:
    write(workdir, runs, flops)
  return runs


class TaskFailed(RuntimeError):
  """A benchmark task failed in a worker process."""


def _task_worker(config, workdir, methods, name, sample_counts, overwrite, task_trials,
                 cache_dir=None) -> str:
  """One task's cells in a worker process (the launcher's malloc cap, and its compilation cache
  `cache_dir` if any); returns an error message ('' when it succeeded)."""
  launch.start_process(cache_dir or "off")
  try:
    run(config, workdir, methods, [name], sample_counts,
        progress=lambda line: print(line, flush=True), overwrite=overwrite,
        task_trials={k: v for k, v in task_trials.items() if k == name}, tables=False)
  except Exception as e:  # noqa: BLE001 - reported by the parent with the task's name
    traceback.print_exc()  # the worker's stderr keeps where it failed
    return f"{type(e).__name__}: {e}"
  return ""


def compute_over_processes(config, workdir, methods, task_names, sample_counts, overwrite,
                           task_trials, progress=print) -> None:
  """Under jax.distributed: process i computes tasks i, i + P, ... (P processes) on its own
  devices, writing their cells itself; every process then waits for the others. Raises
  TaskFailed on the process whose task failed, after the wait (the others go on)."""
  mine = task_names[jax.process_index()::jax.process_count()]
  local = mesh.from_config(config, local=True)
  failed = {}
  for name in mine:
    try:
      run(config, workdir, methods, [name], sample_counts, progress=progress,
          overwrite=overwrite, task_trials={k: v for k, v in task_trials.items() if k == name},
          tables=False, placement=local)
    except Exception as e:  # noqa: BLE001 - raised below, after the other processes' wait
      traceback.print_exc()
      failed[name] = f"{type(e).__name__}: {e}"
  mesh.Runs(local=False).barrier("benchmark tasks computed")
  if failed:
    raise TaskFailed(f"process {jax.process_index()}: benchmark tasks failed: "
                     + "; ".join(f"{k}: {v}" for k, v in failed.items()))


def compute_in_workers(config, workdir, methods, task_names, sample_counts, overwrite,
                       task_trials, workers: int, progress=print) -> None:
  """Computes every task's cells, `workers` processes at a time, whole tasks per process (in
  the order given: put the costliest first). Raises TaskFailed naming each failed task after
  the others have finished (their cells are kept)."""
  ctx = multiprocessing.get_context("spawn")  # JAX is not fork-safe
  with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
    cache = launch.active_cache_dir()  # the workers use this process's compilation cache
    jobs = {name: pool.submit(_task_worker, config, str(workdir), list(methods), name,
                              list(sample_counts), overwrite, dict(task_trials), cache)
            for name in task_names}
    names = {job: name for name, job in jobs.items()}
    failed = {}
    for job in concurrent.futures.as_completed(names):
      error = job.result()
      progress(f"task {names[job]}: {'failed: ' + error if error else 'done'}")
      if error:
        failed[names[job]] = error
  if failed:
    raise TaskFailed("benchmark tasks failed (the others' cells are kept): "
                       + "; ".join(f"{k}: {v}" for k, v in failed.items()))


def write(workdir, runs, flops, with_plots: bool = True) -> None:
  """benchmark.json, benchmark.md and (with_plots) one plot per table metric against m."""
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "benchmark.json").write_text(json.dumps(runs, indent=2))
  (workdir / "benchmark.md").write_text(markdown(runs, flops))
  for key, label, _ in TABLE_METRICS if with_plots else ():
    name = key.removeprefix("task_").removesuffix("_mean")
    plots.metric_vs_samples(runs, key, label, workdir / f"{name}_vs_samples.png",
                            flops if key == "task_spearman_mean" else None)


def _cell(runs, task, method, m, key):
  match = [r for r in runs if (r["task"], r["method"], r["num_samples"]) == (task, method, m)]
  if not match:
    return None
  per_trial = np.mean([v[key.removeprefix("task_").removesuffix("_mean")]
                       for v in match[0]["per_device"].values()], axis=0)
  return float(np.mean(per_trial)), float(np.std(per_trial)), match[0]["num_trials"]


def _groups(task_names) -> list:
  """[(label, tasks)]: the paper tasks, the generated tasks and any others, as present."""
  kinds = (("paper tasks", tasks.PAPER_TASKS), ("generated tasks", tasks.GENERATED_TASKS))
  out = [(label, [t for t in task_names if t in registry]) for label, registry in kinds]
  known = {t for _, members in out for t in members}
  out.append(("other tasks", [t for t in task_names if t not in known]))
  return [(label, members) for label, members in out if members]


def markdown(runs, flops) -> str:
  counts = sorted({r["num_samples"] for r in runs})
  task_names = list(dict.fromkeys(r["task"] for r in runs))
  method_names = list(dict.fromkeys(r["method"] for r in runs))
  lines = ["# Benchmark", "",
           "Means over each task's target devices; mean ± std over trials (the trial count "
           "follows each value in brackets where it is not 3). Evaluation over all "
           "architectures of the space unless a run's eval_set says otherwise. Latency in "
           "milliseconds; 'within ±10 %': share of architectures predicted within 10 % of the "
           "measured latency; 'median absolute error': median of |predicted - measured| / "
           "measured. `supervised` is an upper reference (fitted on 80 % of the target's own "
           "architectures, scored on the other 20 %, one split), not a competitor; "
           "`nasflat_gnn` is nasflat's adapted GNN ensemble alone, before the stack, from the "
           "same runs."]
  for key, label, fmt in TABLE_METRICS:
    lines += ["", f"## {label} at m = {max(counts)}", "",
              "| task | " + " | ".join(method_names) + " |",
              "|---|" + "---|" * len(method_names)]
    for task in task_names:
      cells = [_cell(runs, task, method, max(counts), key) for method in method_names]
      lines.append(f"| {task} | " + " | ".join("" if c is None else fmt.format(c[0])
                                               for c in cells) + " |")
    for group, members in _groups(task_names):
      means = []
      for method in method_names:
        cells = [_cell(runs, t, method, max(counts), key) for t in members]
        means.append("" if None in cells else fmt.format(np.mean([c[0] for c in cells])))
      lines.append(f"| **mean ({group})** | " + " | ".join(means) + " |")
  for key, label, fmt in TABLE_METRICS[:2]:
    head = "| task | method | " + " | ".join(f"m={m}" for m in counts) + " |"
    extra = " FLOPs (no training) | HELP | MultiPredict | NASFLAT (paper) |" \
        if key == "task_spearman_mean" else ""
    lines += ["", f"## {label} against m", "", head[:-1] + ("|" + extra if extra else "|"),
              "|" + "---|" * (len(counts) + 2 + (4 if extra else 0))]
    for task in task_names:
      for method in method_names:
        cells = []
        for m in counts:
          c = _cell(runs, task, method, m, key)
          trials = "" if c is None or c[2] == 3 else f" [{c[2]}]"
          cells.append("" if c is None else f"{fmt.format(c[0])} ± {fmt.format(c[1])}{trials}")
        row = f"| {task} | {method} | " + " | ".join(cells) + " |"
        if extra:
          ref = REFERENCE.get(task, {})
          row += (f" {flops[task]:.3f} | {ref.get('HELP', '')} | {ref.get('MultiPredict', '')} "
                  f"| {ref.get('NASFLAT', '')} |")
        lines.append(row)
  lines += ["", "How each method's milliseconds are obtained:", ""]
  lines += [f"- `{method}`: {next(r.get('ms_from', '') for r in runs if r['method'] == method)}"
            for method in method_names]
  lines += ["", "Wall time per trial on this machine (median over trials; a trial is pretraining "
            "plus transfer and evaluation on every target at the largest sample count):", "",
            "| task | method | training devices | pretrain (s) | trial (s) |",
            "|---|---|---|---|---|"]
  for task in task_names:
    for method in method_names:
      match = [r for r in runs if (r["task"], r["method"]) == (task, method)]
      if not match or method in DERIVED:
        continue
      last = max(match, key=lambda r: r["num_samples"])
      pre, trial = trial_times(last)
      lines.append(f"| {task} | {method} | {len(last['train_hw'])} | {np.median(pre):.0f} | "
                   f"{np.median(trial):.0f} |")
  lines += ["", "Wall time of this invocation per method, every task and sample count (runs read "
            "back from an earlier invocation count ~0):", "", "| method | minutes |", "|---|---|"]
  for method in method_names:
    if method in DERIVED:
      continue
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
