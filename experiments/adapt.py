"""Adapt a pretrained predictor to your device's measurements; predict every architecture.

  python experiments/adapt.py --pretrained=out/pretrain_nb201 --measurements=my_device.csv \
      --out=out/my_device

Reads `arch,latency_ms` rows (milliseconds), checks them all (row numbers in every error), and
writes OUT/predictions.csv (arch, predicted_latency_ms, rank), OUT/checkpoint (the adapted
predictor; latpred.predict.LatencyPredictor.load reads it) and OUT/report.{json,md}. Nothing is
written if any input is wrong.
"""

import sys
import warnings

from absl import app, flags, logging

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.apps import measurements, workflow  # noqa: E402
from latpred.protocol import launch  # noqa: E402

_PRETRAINED = flags.DEFINE_string("pretrained", None, "Checkpoint folder (pretrain.py or "
                                  "run_task.py's WORKDIR/pretrained).", required=True)
_MEASUREMENTS = flags.DEFINE_string("measurements", None, "CSV with arch,latency_ms.",
                                    required=True)
_OUT = flags.DEFINE_string("out", None, "Output folder (must not exist or be empty).",
                           required=True)
_DEVICE = flags.DEFINE_string("device", "my_device", "A name for your device.")
_DUPLICATES = flags.DEFINE_enum("duplicates", "average", list(measurements.DUPLICATES),
                                "Repeated architectures: average them (with a warning) or refuse.")
_SPACE = flags.DEFINE_string("space", "", "Expected search space of the checkpoint (optional).")
_TRIAL = flags.DEFINE_integer("trial", 0, "Which pretrained trial's ensemble to use.")
_SEED = flags.DEFINE_integer("seed", 0, "Fine-tuning seed.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Latency data (default: $LATPRED_DATA_DIR or "
                                "the user cache).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  launch.start_process()  # malloc cap; a new process reuses the programs compiled before
  try:
    report = workflow.adapt_device(
        _PRETRAINED.value, _MEASUREMENTS.value, _OUT.value, device=_DEVICE.value,
        duplicates=_DUPLICATES.value, trial=_TRIAL.value, seed=_SEED.value, space=_SPACE.value,
        data_dir=_DATA_DIR.value)
  except (ValueError, FileNotFoundError, FileExistsError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(open(f"{_OUT.value}/report.md").read())
  del report


if __name__ == "__main__":
  app.run(main)
