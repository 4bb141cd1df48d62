"""results.json summaries and their markdown tables.

Per target device, every metric of `latpred.metrics.evaluate` per trial (`spearman`, `kendall`,
`mape_pct`, `median_ape_pct`, `within_5pct`, `within_10pct`, lists over trials) with its mean
(`<metric>_mean`), and the NB201 cells whose output is disconnected from the input on their own
(`disconnected`: count and their millisecond errors per trial). Per task, the mean over target
devices (`task_<metric>_mean`). Rows that carry the adapted GNN's own prediction (nasflat) give
the same summary under `gnn`.
"""

import json
import pathlib

import numpy as np

from latpred.metrics import MS_METRICS

METRICS = ("spearman", "kendall") + MS_METRICS


def _per_device(trials: list) -> dict:
  out = {}
  for key in METRICS:
    values = [r[key] for r in trials]
    out[key], out[f"{key}_mean"] = values, float(np.mean(values))
  out["spearman_std"] = float(np.std(out["spearman"]))
  constant = sum(bool(r.get("constant_prediction")) for r in trials)
  if constant:  # trials whose prediction was constant (correlations scored 0)
    out["constant_predictions"] = constant
  if any("disconnected" in r for r in trials):
    dis = [r["disconnected"] for r in trials]
    out["disconnected"] = {"count": dis[0]["count"],
                           **{k: [d[k] for d in dis] for k in MS_METRICS}}
  return out


def _task_means(per_device: dict) -> dict:
  return {f"task_{key}_mean": float(np.mean([v[f"{key}_mean"] for v in per_device.values()]))
          for key in METRICS}


def summarise(task, config, rows, pretrain_s, total_s, method: str = "nasflat") -> dict:
  """results.json's content from the finished rows {(trial, device): row} of trials
  0 .. config.num_trials - 1 (every one of them must be there)."""
  missing = [(t, hw) for t in range(config.num_trials) for hw in task.test_hw
             if (t, hw) not in rows]
  extra = [k for k in rows if k[0] >= config.num_trials]
  if missing or extra:
    raise ValueError(f"summary of {config.num_trials} trials: missing {missing}, extra {extra}")
  per_device, gnn = {}, {}
  for hw in task.test_hw:
    trials = sorted((r for (t, d), r in rows.items() if d == hw), key=lambda r: r["trial"])
    per_device[hw] = {**_per_device(trials),
                      "copied_hw_row": [r.get("copied_hw_row") for r in trials]}
    if all("gnn" in r for r in trials):
      gnn[hw] = _per_device([r["gnn"] for r in trials])
  out = {
      "method": method, "space": task.space, "task": task.name,
      "train_hw": list(task.train_hw), "test_hw": list(task.test_hw),
      "num_samples": config.transfer.num_samples, "num_trials": config.num_trials,
      "eval_set": config.eval.eval_set, "per_device": per_device, **_task_means(per_device),
      "wall_time_s": {"pretrain": [pretrain_s.get(t) for t in range(config.num_trials)],
                      "transfer": {f"{d}/trial{t}": r["transfer_s"] for (t, d), r in rows.items()},
                      "total": total_s},
      "config": config.to_dict(),
  }
  if gnn:
    out["gnn"] = {"per_device": gnn, **_task_means(gnn)}
  return out


def markdown(results) -> str:
  lines = [f"# {results['method']} on task {results['task']} ({results['space']})", "",
           f"{results['num_samples']} target samples, {results['num_trials']} trials, "
           f"evaluated on `{results['eval_set']}` architectures; means over trials. "
           "Milliseconds: share predicted within ±10 % / ±5 % of the measured latency, mean and "
           "median absolute percentage error"
           + (f" (ms from {results['ms_from']})" if results.get("ms_from") else "") + ".", "",
           "| target device | SRCC | SRCC std | Kendall | within ±10 % | within ±5 % | "
           "median error (%) | MAPE (%) |", "|---|---|---|---|---|---|---|---|"]
  for hw, v in results["per_device"].items():
    lines.append(f"| {hw} | {v['spearman_mean']:.3f} | {v['spearman_std']:.3f} | "
                 f"{v['kendall_mean']:.3f} | {v['within_10pct_mean']:.1f} % | "
                 f"{v['within_5pct_mean']:.1f} % | {v['median_ape_pct_mean']:.1f} | "
                 f"{v['mape_pct_mean']:.1f} |")
  r = results
  lines.append(f"| **task mean** | **{r['task_spearman_mean']:.3f}** | | "
               f"{r['task_kendall_mean']:.3f} | {r['task_within_10pct_mean']:.1f} % | "
               f"{r['task_within_5pct_mean']:.1f} % | {r['task_median_ape_pct_mean']:.1f} | "
               f"{r['task_mape_pct_mean']:.1f} |")
  dis = {hw: v["disconnected"] for hw, v in results["per_device"].items()
         if "disconnected" in v}
  if dis:
    lines += ["", "Cells whose output is disconnected from the input (included above; on their "
              "own here): " + "; ".join(
                  f"{hw}: {d['count']} cells, within ±10 % {np.mean(d['within_10pct']):.1f} %, "
                  f"median error {np.mean(d['median_ape_pct']):.0f} %" for hw, d in dis.items())
              + "."]
  if "gnn" in results:
    g = results["gnn"]
    lines += ["", f"The adapted GNN ensemble alone (before the stack): SRCC "
              f"{g['task_spearman_mean']:.3f}, within ±10 % {g['task_within_10pct_mean']:.1f} %, "
              f"median error {g['task_median_ape_pct_mean']:.1f} %."]
  if results.get("note"):
    lines += ["", f"Note: {results['note']}."]
  lines += ["", f"Total wall time: {results['wall_time_s']['total']:.0f} s."]
  return "\n".join(lines) + "\n"


def files(workdir) -> list:
  """The summaries `write` produces in `workdir`."""
  return [pathlib.Path(workdir) / "results.json", pathlib.Path(workdir) / "results.md"]


def write(workdir, results: dict) -> None:
  """Writes workdir/results.json and workdir/results.md."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  (workdir / "results.md").write_text(markdown(results))
