"""Runs a design study (configs/study.py) and writes its table and plot.

A point's runs go to WORKDIR/<study>/<label>/<task>; pretrained checkpoints to
WORKDIR/pretrained/<task>/<hash of the pretraining settings>, so points (and studies) that differ
only in transfer settings share them. Finished runs are read back (runner.run resumes when the
records' signature matches). Under jax.distributed every process runs every point, each point's
runs sharded over all processes' devices (`runner.run`); process 0 writes the table.
"""

import hashlib
import json
import pathlib
import re
import time

import jax
import numpy as np

from latpred.protocol import config as config_lib
from latpred.protocol import plots, runner, tasks


def points(sweep, study: str, default_tasks) -> list[tuple[str, dict, tuple]]:
  """[(label, overrides, tasks)] of a study, in sweep order."""
  out = []

  def add(label, overrides=None, tasks=None):
    out.append((str(label), dict(overrides or {}), tuple(tasks or default_tasks)))

  sweep(add, study)
  return out


def point_config(base_config, base_overrides: dict, overrides: dict, task_name: str):
  """The base config with the overrides (dotted names: 'transfer.num_samples') applied."""
  cfg = base_config.copy_and_resolve_references()
  for key, value in {**base_overrides, **overrides, "data.task": task_name}.items():
    if key in config_lib.MOVED:
      raise config_lib.moved_error(key)
    *path, field = key.split(".")
    try:
      section = config_lib.get(cfg, ".".join(path)) if path else cfg
      if field not in section:
        raise KeyError(field)
    except (KeyError, AttributeError):
      raise ValueError(f"study override {key!r} is not a config field") from None
    section[field] = value
  return cfg


def _slug(label: str) -> str:
  return re.sub(r"[^A-Za-z0-9_.+-]+", "_", label)


def pretrained_dir(workdir, config, task) -> pathlib.Path:
  sig = config_lib.pretrain_signature(config, task.name, task.space, task.train_hw)
  digest = hashlib.sha1(json.dumps(sig, sort_keys=True).encode()).hexdigest()[:12]
  return pathlib.Path(workdir) / "pretrained" / task.name / digest


def per_trial_means(results) -> list[float]:
  """Task-mean Spearman of each trial (mean over target devices)."""
  return list(np.mean([v["spearman"] for v in results["per_device"].values()], axis=0))


def run(study_module, study: str, base_config, workdir, num_trials=None, task_names=None,
        log=print, overwrite: bool = False) -> list[dict]:
  """Runs every point of `study` on its tasks; writes WORKDIR/<study>/study.{json,md,png}."""
  workdir = pathlib.Path(workdir)
  base = dict(study_module.BASE)
  if num_trials:
    base["num_trials"] = num_trials
  rows = []
  for label, overrides, point_tasks in points(study_module.sweep, study,
                                              task_names or study_module.TASKS):
    for name in point_tasks:
      task = tasks.get_task(name)
      cfg = point_config(base_config, base, overrides, name)
      t0 = time.time()
      res = runner.run(cfg, workdir / study / _slug(label) / name,
                       pretrained_dir=pretrained_dir(workdir, cfg, task), overwrite=overwrite)
      trials = per_trial_means(res)
      rows.append({"study": study, "label": label, "task": name, "overrides": overrides,
                   "spearman_trials": trials, "spearman_mean": float(np.mean(trials)),
                   "spearman_std": float(np.std(trials)), "wall_s": time.time() - t0})
      log(f"{study} {label} {name}: SRCC {rows[-1]['spearman_mean']:.3f} "
          f"± {rows[-1]['spearman_std']:.3f} ({rows[-1]['wall_s']:.0f} s)")
  if jax.process_index() != 0:  # jax.distributed: every point ran over all processes' devices
    return rows
  out = workdir / study
  out.mkdir(parents=True, exist_ok=True)
  (out / "study.json").write_text(json.dumps(rows, indent=2))
  (out / "study.md").write_text(markdown(study, rows, base))
  plots.study_points(rows, out / "study.png", f"{study}: mean Spearman ± std over trials")
  return rows


def markdown(study: str, rows, base: dict) -> str:
  task_names = list(dict.fromkeys(r["task"] for r in rows))
  lines = [f"Study `{study}`: mean Spearman over the task's targets, mean ± std over "
           f"{base['num_trials']} trials; base "
           + ", ".join(f"{k}={v}" for k, v in base.items()) + ".", "",
           "| point | " + " | ".join(task_names) + " |",
           "|---|" + "---|" * len(task_names)]
  for label in dict.fromkeys(r["label"] for r in rows):
    cells = []
    for name in task_names:
      match = [r for r in rows if (r["label"], r["task"]) == (label, name)]
      cells.append(f"{match[0]['spearman_mean']:.3f} ± {match[0]['spearman_std']:.3f}"
                   if match else "")
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"
