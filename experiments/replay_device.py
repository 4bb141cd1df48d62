"""Stand in for a real device with a measured device of the data (to try or check the workflow).

  # fill latency_ms for suggested architectures from the recorded measurements of a device
  python experiments/replay_device.py --space=nb201 --device=eyeriss \
      --suggestions=to_measure.csv --out=my_device.csv
  # score adapt.py's predictions against that device's measurements of every architecture
  python experiments/replay_device.py --space=nb201 --device=eyeriss \
      --predictions=out/my_device/predictions.csv

The latencies are HELP's recorded measurements (ms), not new ones.
"""

import csv
import sys

import numpy as np
from absl import app, flags

from latpred import metrics
from latpred.apps import measurements
from latpred.data import load_latency_table
from latpred.spaces import load_space

_SPACE = flags.DEFINE_enum("space", None, ["nb201", "fbnet"], "Search space.", required=True)
_DEVICE = flags.DEFINE_string("device", None, "A measured device of the space.", required=True)
_SUGGESTIONS = flags.DEFINE_string("suggestions", None, "CSV with an arch column (suggest.py).")
_OUT = flags.DEFINE_string("out", None, "Output CSV arch,latency_ms (with --suggestions).")
_PREDICTIONS = flags.DEFINE_string("predictions", None, "adapt.py's predictions.csv to score.")


def main(argv):
  del argv
  space = load_space(_SPACE.value)
  table = load_latency_table(_SPACE.value)
  truth = table.latency_ms(_DEVICE.value)  # unknown names raise with the valid ones listed
  if _SUGGESTIONS.value:
    if not _OUT.value:
      sys.exit("--suggestions needs --out")
    archs = [r["arch"] for r in csv.DictReader(open(_SUGGESTIONS.value))]
    idx = space.indices_of(archs)
    measurements.write_measurements(_OUT.value, space, idx, truth[idx])
    print(f"wrote {len(archs)} recorded {_DEVICE.value} latencies (ms) to {_OUT.value}")
  if _PREDICTIONS.value:
    rows = list(csv.DictReader(open(_PREDICTIONS.value)))
    idx = space.indices_of([r["arch"] for r in rows])
    pred = np.array([float(r["predicted_latency_ms"]) for r in rows])
    print(f"{_DEVICE.value}: Spearman {metrics.spearman(pred, truth[idx]):.3f}, Kendall "
          f"{metrics.kendall(pred, truth[idx]):.3f} over {len(rows)} architectures")


if __name__ == "__main__":
  app.run(main)
