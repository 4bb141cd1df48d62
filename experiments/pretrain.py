"""Pretrain the predictor on the devices of a space, for users who then adapt to their own.

  python experiments/pretrain.py --config=configs/nasflat.py --config.space=nb201 \
      --workdir=out/pretrain_nb201 [--config.train_hw=a,b,c]

Trains trial 0's ensemble on every device of the space (or the listed ones) and writes orbax
checkpoints to WORKDIR (rerunning resumes). Then: experiments/suggest.py, measure, and
experiments/adapt.py --pretrained=WORKDIR.
"""

import pathlib
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred import runner  # noqa: E402

_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoint folder.", required=True)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  members = runner.pretrain(_CONFIG.value, _WORKDIR.value)
  print(f"pretrained {len(members)} member(s) in {sum(s for _, s in members):.0f} s -> "
        f"{_WORKDIR.value}")


if __name__ == "__main__":
  app.run(main)
