"""Pretrain the predictor on the devices of a space, for users who then adapt to their own.

  python experiments/pretrain.py --config=configs/nasflat.py --config.data.space=nb201 \
      --workdir=out/pretrain_nb201 [--config.data.train_hw=a,b,c]

Trains trial 0's ensemble on every device of the space (or the listed ones) and writes orbax
checkpoints to WORKDIR (rerunning resumes). Then: experiments/suggest.py, measure, and
experiments/adapt.py --pretrained=WORKDIR.
"""

import pathlib
import sys
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.protocol import config as config_lib  # noqa: E402
from latpred.protocol import launch  # noqa: E402
from latpred.protocol import runner  # noqa: E402
from latpred.protocol.records import StaleResultsError  # noqa: E402

_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoint folder.", required=True)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Retrain members that another configuration "
                               "pretrained in --workdir (default: refuse).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  launch.start_process()  # malloc cap, compilation cache
  try:
    members = runner.pretrain(_CONFIG.value, _WORKDIR.value, _OVERWRITE.value)
  except StaleResultsError as e:
    sys.exit(f"error: {e}")
  print(f"pretrained {len(members)} member(s) in {sum(s for _, s in members):.0f} s -> "
        f"{_WORKDIR.value}")


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
