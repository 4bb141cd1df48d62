"""Compares two run_task.py workdirs of the same task (e.g. one device against eight): per target
device, Spearman and the share within ±10 % of each, and their largest difference.

  python experiments/compare_runs.py --runs=/tmp/fd1,/tmp/fd8 --out=docs/parallel.md
"""

import json
import pathlib

from absl import app, flags

_RUNS = flags.DEFINE_list("runs", None, "Two workdirs holding results.json.", required=True)
_OUT = flags.DEFINE_string("out", None, "Markdown file to write (default: print only).")


def compare(a: dict, b: dict) -> tuple[list[str], float]:
  """Markdown rows per target device and the largest |ΔSpearman| (means over trials)."""
  if set(a["per_device"]) != set(b["per_device"]):
    raise ValueError(f"the runs have other targets: {sorted(a['per_device'])} vs "
                     f"{sorted(b['per_device'])}")
  rows, worst = [], 0.0
  for hw, ra in a["per_device"].items():
    rb = b["per_device"][hw]
    diff = abs(ra["spearman_mean"] - rb["spearman_mean"])
    worst = max(worst, diff)
    rows.append(f"| {hw} | {ra['spearman_mean']:.4f} | {rb['spearman_mean']:.4f} | {diff:.1e} | "
                f"{ra['within_10pct_mean']:.1f} | {rb['within_10pct_mean']:.1f} |")
  return rows, worst


def main(argv):
  del argv
  if len(_RUNS.value) != 2:
    raise app.UsageError("--runs takes two workdirs")
  res = [json.loads((pathlib.Path(d) / "results.json").read_text()) for d in _RUNS.value]
  names = [f"{r.get('parallel', {}).get('device_count', '?')} device(s), "
           f"{r.get('parallel', {}).get('process_count', '?')} process(es)" for r in res]
  rows, worst = compare(*res)
  lines = [f"Task {res[0]['task']}, {res[0]['num_trials']} trials, m = {res[0]['num_samples']}: "
           f"`{_RUNS.value[0]}` ({names[0]}) against `{_RUNS.value[1]}` ({names[1]}); means over "
           "trials.", "",
           "| target | Spearman (a) | Spearman (b) | abs. difference | within ±10 % (a) | "
           "within ±10 % (b) |", "|---|---|---|---|---|---|", *rows, "",
           f"Largest Spearman difference: {worst:.1e}. Wall time: "
           f"{res[0]['wall_time_s']['total']:.0f} s (a), "
           f"{res[1]['wall_time_s']['total']:.0f} s (b).", ""]
  text = "\n".join(lines)
  print(text)
  if _OUT.value:
    pathlib.Path(_OUT.value).write_text(text)


if __name__ == "__main__":
  app.run(main)
