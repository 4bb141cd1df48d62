"""Which architectures to measure on a new device (step 1 of suggest -> measure -> adapt).

  python experiments/suggest.py --space=nb201 --num=20 --sampler=kmeans --out=to_measure.csv

Writes a CSV with an `arch` column (NB201 cell strings; FBNet '_'-joined op ids plus their op
names in `ops`). Measure each on your device and add a `latency_ms` column (milliseconds).
"""

import pathlib
import sys
import warnings

from absl import app, flags
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.apps import workflow  # noqa: E402
from latpred.protocol import config as config_lib  # noqa: E402
from latpred.protocol import samplers  # noqa: E402

_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_SPACE = flags.DEFINE_enum("space", None, ["nb201", "fbnet"], "Search space.", required=True)
_NUM = flags.DEFINE_integer("num", 20, "How many architectures to measure.", lower_bound=3)
_SAMPLER = flags.DEFINE_enum("sampler", "kmeans", list(samplers.SAMPLERS),
                             "Sampler (latpred.samplers); 'latency' is an oracle and refused.")
_SEED = flags.DEFINE_integer("seed", 0, "Sampler seed.")
_OUT = flags.DEFINE_string("out", None, "Output CSV.", required=True)
_CANDIDATES = flags.DEFINE_string("candidates", None, "Pick among the arch column of this CSV, "
                                  "not the whole space; with a latency_ms column (architectures "
                                  "already measured) the output keeps the picks' latencies.")


def main(argv):
  del argv
  idx = workflow.suggest(_CONFIG.value, _SPACE.value, _NUM.value, _SAMPLER.value, _SEED.value,
                         _OUT.value, _CANDIDATES.value)
  print(f"wrote {len(idx)} {_SPACE.value} architectures to measure to {_OUT.value}; add a "
        "latency_ms column (milliseconds) and run experiments/adapt.py")


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
