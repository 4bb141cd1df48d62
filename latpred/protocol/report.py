"""results.json summaries and their markdown tables."""

import json
import pathlib

import numpy as np


def summarise(task, config, rows, pretrain_s, total_s, method: str = "nasflat") -> dict:
  """results.json's content from the finished rows {(trial, device): row} of trials
  0 .. config.num_trials - 1 (every one of them must be there)."""
  missing = [(t, hw) for t in range(config.num_trials) for hw in task.test_hw
             if (t, hw) not in rows]
  extra = [k for k in rows if k[0] >= config.num_trials]
  if missing or extra:
    raise ValueError(f"summary of {config.num_trials} trials: missing {missing}, extra {extra}")
  per_device = {}
  for hw in task.test_hw:
    trials = sorted((r for (t, d), r in rows.items() if d == hw), key=lambda r: r["trial"])
    sp = [r["spearman"] for r in trials]
    per_device[hw] = {"spearman": sp, "spearman_mean": float(np.mean(sp)),
                      "spearman_std": float(np.std(sp)), "kendall": [r["kendall"] for r in trials],
                      "copied_hw_row": [r.get("copied_hw_row") for r in trials]}
  return {
      "method": method, "space": task.space, "task": task.name,
      "train_hw": list(task.train_hw), "test_hw": list(task.test_hw),
      "num_samples": config.transfer.num_samples, "num_trials": config.num_trials,
      "eval_set": config.eval.eval_set, "per_device": per_device,
      "task_spearman_mean": float(np.mean([v["spearman_mean"] for v in per_device.values()])),
      "task_kendall_mean": float(np.mean([np.mean(v["kendall"])
                                          for v in per_device.values()])),
      "wall_time_s": {"pretrain": [pretrain_s.get(t) for t in range(config.num_trials)],
                      "transfer": {f"{d}/trial{t}": r["transfer_s"] for (t, d), r in rows.items()},
                      "total": total_s},
      "config": config.to_dict(),
  }


def markdown(results) -> str:
  lines = [f"# {results['method']} on task {results['task']} ({results['space']})", "",
           f"{results['num_samples']} target samples, {results['num_trials']} trials, "
           f"evaluated on `{results['eval_set']}` architectures.", "",
           "| target device | SRCC mean | SRCC std | Kendall mean |", "|---|---|---|---|"]
  for hw, v in results["per_device"].items():
    lines.append(f"| {hw} | {v['spearman_mean']:.3f} | {v['spearman_std']:.3f} | "
                 f"{np.mean(v['kendall']):.3f} |")
  lines.append(f"| **task mean** | **{results['task_spearman_mean']:.3f}** | | "
               f"{results['task_kendall_mean']:.3f} |")
  lines.append("")
  lines.append(f"Total wall time: {results['wall_time_s']['total']:.0f} s.")
  return "\n".join(lines) + "\n"



def write(workdir, results: dict) -> None:
  """Writes workdir/results.json and workdir/results.md."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  (workdir / "results.md").write_text(markdown(results))
