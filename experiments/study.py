"""One NASFLAT design study (configs/study.py), or all of them: table and plot from scratch.

  python experiments/study.py --study=gnn_type --workdir=out/study
  python experiments/study.py --study=all --workdir=out/study [--num_trials=2]

Writes WORKDIR/<study>/study.md, study.png and study.json (resumable: finished runs whose
configuration matches are read back).
"""

import pathlib
import sys
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from configs import study as study_configs  # noqa: E402
from latpred.protocol import config as config_lib  # noqa: E402
from latpred.protocol import launch  # noqa: E402
from latpred.protocol import study  # noqa: E402
from latpred.protocol.records import StaleResultsError  # noqa: E402

_DISTRIBUTED = launch.define_flags()
_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_STUDY = flags.DEFINE_string("study", None, "A study of configs/study.py, or 'all'.",
                             required=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder.", required=True)
_TRIALS = flags.DEFINE_integer("num_trials", None, "Trials (default: configs/study.py BASE).")
_TASKS = flags.DEFINE_list("tasks", None, "Tasks (default: configs/study.py TASKS; a point "
                           "may name its own).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Recompute points whose stored results another "
                               "configuration produced (default: refuse).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  launch.initialize(_DISTRIBUTED)
  names = list(study_configs.STUDIES) if _STUDY.value == "all" else [_STUDY.value]
  for name in names:
    if name not in study_configs.STUDIES:
      raise app.UsageError(f"unknown study {name!r}; valid: all, "
                           f"{', '.join(study_configs.STUDIES)}")
  for name in names:
    try:
      study.run(study_configs, name, _CONFIG.value, _WORKDIR.value, _TRIALS.value, _TASKS.value,
                overwrite=_OVERWRITE.value)
    except StaleResultsError as e:
      sys.exit(f"error: {e}")
    print(open(pathlib.Path(_WORKDIR.value) / name / "study.md").read())


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
