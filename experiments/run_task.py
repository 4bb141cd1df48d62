"""pretrain -> transfer -> evaluate a latency predictor on one task; writes DIR/results.json.

  python experiments/run_task.py --config=configs/nasflat.py --config.data.task=FD --workdir=/tmp/fd

Rerunning in the same workdir resumes; with another configuration it refuses, naming the
differing fields, unless --overwrite (which discards the old results).
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

_DISTRIBUTED = launch.define_flags()
_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (rerun it to resume).",
                               required=True)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Discard results in --workdir that another "
                               "configuration produced (default: refuse).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # orbax logs every save/restore at INFO
  launch.initialize(_DISTRIBUTED)  # several processes: jax.distributed (flags in --help)
  import jax
  print(f"jax {jax.__version__}, process {jax.process_index()}/{jax.process_count()}, "
        f"devices {jax.devices()}")
  try:
    results = runner.run(_CONFIG.value, _WORKDIR.value, overwrite=_OVERWRITE.value)
  except StaleResultsError as e:
    sys.exit(f"error: {e}")
  print(f"task {results['task']}: mean SRCC {results['task_spearman_mean']:.3f} "
        f"({_WORKDIR.value}/results.md)")


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
