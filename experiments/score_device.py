"""Score adapt.py's predictions on a device's measurements that adaptation did not use, beside
the references (stack_only, ridge, FLOPs, nearest training device) fitted on the same rows.

  python experiments/score_device.py --pretrained=out/pretrain_nb201 \
      --measured=experiments/measured/nb201_cpu.csv --used=my_device.csv \
      --predictions=out/my_device/predictions.csv --title="local CPU" --out=score.json

Latencies are in milliseconds. Prints a markdown table; --out also writes the JSON.
"""

import csv
import json
import sys

import numpy as np
from absl import app, flags

from latpred.apps import measurements, scoring
from latpred.data import load_latency_table
from latpred.predict import LatencyPredictor

_PRETRAINED = flags.DEFINE_string("pretrained", None, "The checkpoint adapt.py adapted (for its "
                                  "space and training devices).", required=True)
_MEASURED = flags.DEFINE_string("measured", None, "Every measured row (arch,latency_ms).",
                                required=True)
_USED = flags.DEFINE_string("used", None, "The rows adapt.py was given.", required=True)
_PREDICTIONS = flags.DEFINE_string("predictions", None, "adapt.py's predictions.csv.",
                                   required=True)
_TITLE = flags.DEFINE_string("title", "my_device", "Heading of the table.")
_OUT = flags.DEFINE_string("out", None, "Also write the scores here (JSON).")


def main(argv):
  del argv
  try:
    predictor = LatencyPredictor.load(_PRETRAINED.value)
    space = predictor.space
    measured = measurements.read_measurements(_MEASURED.value, space)
    used = measurements.read_measurements(_USED.value, space)
    rows = list(csv.DictReader(open(_PREDICTIONS.value)))
    predicted = np.empty(space.num_archs)
    predicted[space.indices_of([r["arch"] for r in rows])] = [
        float(r["predicted_latency_ms"]) for r in rows]
    if len(rows) != space.num_archs:
      raise ValueError(f"{_PREDICTIONS.value}: {len(rows)} rows, not one per architecture")
    scores = scoring.score_device(space, load_latency_table(space.name), predictor.train_hw,
                                  measured, used, predicted)
  except (ValueError, KeyError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(scoring.markdown(scores, _TITLE.value))
  if _OUT.value:
    with open(_OUT.value, "w") as f:
      json.dump({"title": _TITLE.value, **scores}, f, indent=2)


if __name__ == "__main__":
  app.run(main)
