"""How two measurements of the same architectures on this machine agree (measure.py's outputs).

  python experiments/repeatability.py --runs=run_a.csv,run_b.csv [--space=nb201]

Prints Spearman, the median and 90th percentile relative difference, the median ratio (second /
first) and the median difference once that common factor is divided out (docs/measure.md),
for the CSVs as written and, where a run was anchored (measure.py --reference, or several
groups), for the raw values its sidecar keeps (`raw_latency_ms`). Rows present in both runs are
compared; latencies in milliseconds.
"""

import json
import sys

from absl import app, flags

from latpred import spaces
from latpred.apps import measure, measurements, scoring

_RUNS = flags.DEFINE_list("runs", None, "Two measure.py output CSVs.", required=True)
_SPACE = flags.DEFINE_enum("space", "nb201", ["nb201", "fbnet"], "Search space of the runs.")


def _raw(path) -> dict:
  """arch -> raw ms from the run's sidecar, or {} when the run was not anchored / has none."""
  sidecar = measure.sidecar_path(path)
  if not sidecar.exists():
    return {}
  records = json.loads(sidecar.read_text()).get("records", [])
  return {r["arch"]: r["raw_latency_ms"] for r in records if "raw_latency_ms" in r}


def _row(label: str, a: dict, b: dict, archs) -> str:
  s = scoring.agreement([a[x] for x in archs], [b[x] for x in archs])
  return (f"| {label} | {s['n']} | {s['spearman']:.3f} | {s['median_diff_pct']:.1f} | "
          f"{s['p90_diff_pct']:.1f} | {s['median_ratio']:.3f} | "
          f"{s['median_diff_without_ratio_pct']:.1f} |")


def main(argv):
  del argv
  if len(_RUNS.value) != 2:
    print("error: --runs takes two CSVs", file=sys.stderr)
    sys.exit(2)
  canonical = lambda x: spaces.canonical(_SPACE.value, x)  # noqa: E731
  try:
    a, b = (measurements.read_latencies(p, canonical) for p in _RUNS.value)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  archs = [x for x in a if x in b]
  if len(archs) < 3:
    print(f"error: the runs share {len(archs)} architectures; need 3", file=sys.stderr)
    sys.exit(2)
  print(f"{_RUNS.value[0]} (first) vs {_RUNS.value[1]} (second); differences relative to the "
        "first, in %\n")
  print("| values | rows | Spearman | median diff. | 90th pct | median ratio | "
        "median diff. without the ratio |")
  print("| --- | --- | --- | --- | --- | --- | --- |")
  print(_row("as written (CSV)", a, b, archs))
  raw_a, raw_b = _raw(_RUNS.value[0]), _raw(_RUNS.value[1])
  if raw_a or raw_b:
    print(_row("raw (as timed)", {**a, **raw_a}, {**b, **raw_b}, archs))


if __name__ == "__main__":
  app.run(main)
