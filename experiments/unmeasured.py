"""What predicting an unmeasured network costs: held-out measured networks treated as unmeasured.

  python experiments/unmeasured.py --pretrained=out/bench_v2/nasflat/FD/pretrained \
      --devices=fpga,raspi4,eyeriss --out=out/unmeasured_fd

Adapts the checkpoint to each device (a device of the space outside its training devices) from
--num_samples measured networks and predicts a held-out share of the measured networks with
their table inputs and with the per-layer surrogate that replaces them for unmeasured networks
(latpred.apps.unmeasured). Writes OUT/unmeasured.json and OUT/unmeasured.md (latency in ms).
"""

import json
import pathlib
import sys
import warnings

from absl import app, flags, logging

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.apps import unmeasured  # noqa: E402
from latpred.predict import LatencyPredictor  # noqa: E402

_PRETRAINED = flags.DEFINE_string("pretrained", None, "Checkpoint folder.", required=True)
_DEVICES = flags.DEFINE_list("devices", None, "Devices of the space to adapt to.", required=True)
_OUT = flags.DEFINE_string("out", None, "Output folder.", required=True)
_SAMPLES = flags.DEFINE_integer("num_samples", 20, "Measured networks adapting the predictor.")
_HELD = flags.DEFINE_float("held_fraction", 0.2, "Share of the measured networks held out.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the split, the samples and the fine-tune.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Latency data (default: $LATPRED_DATA_DIR).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  predictor = LatencyPredictor.load(_PRETRAINED.value, data_dir=_DATA_DIR.value)
  rows = []
  for hw in _DEVICES.value:
    if hw in predictor.train_hw:
      sys.exit(f"error: {hw} is a training device of {_PRETRAINED.value}")
    rows.append(unmeasured.surrogate_cost(predictor, hw, _SAMPLES.value, _HELD.value,
                                          _SEED.value))
    print(json.dumps(rows[-1]), flush=True)
  out = pathlib.Path(_OUT.value)
  out.mkdir(parents=True, exist_ok=True)
  (out / "unmeasured.json").write_text(json.dumps(rows, indent=2))
  (out / "unmeasured.md").write_text(unmeasured.markdown(rows))
  print(f"wrote {out}/unmeasured.md")


if __name__ == "__main__":
  app.run(main)
