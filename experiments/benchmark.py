"""Runs the benchmark suite: methods x tasks x target-sample counts x trials.

  python experiments/benchmark.py --methods=nasflat --tasks=ND,FD,F1,F2,F3,F4,FA \
      --num_samples=5,10,20 --num_trials=3 --workdir=/tmp/bench

Methods: nasflat, nasflat_gnn (nasflat's GNN alone, from the same runs) and the baselines of
latpred.protocol.baseline_runner (flops, params, nearest, ridge, stack_only, brpnas, help,
multipredict, supervised).
"""

import pathlib
import sys
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.protocol import benchmark  # noqa: E402
from latpred.protocol.records import StaleResultsError  # noqa: E402
from latpred.protocol import config as config_lib  # noqa: E402
from latpred.protocol import launch  # noqa: E402

_DISTRIBUTED = launch.define_flags()
_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_METHODS = flags.DEFINE_list("methods", ["nasflat"], "Methods to run.")
_TASKS = flags.DEFINE_list("tasks", ["ND", "FD", "F1", "F2", "F3", "F4", "FA"], "Task names.")
_SAMPLES = flags.DEFINE_list("num_samples", ["5", "10", "20"], "Target sample counts.")
_TRIALS = flags.DEFINE_integer("num_trials", 3, "Trials per run (overrides the config).")
_TASK_TRIALS = flags.DEFINE_list("task_trials", [], "TASK=N,...: fewer (or more) trials for "
                                 "the named tasks.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (resumable).", required=True)
_WORKERS = flags.DEFINE_integer("workers", 1, "Processes computing tasks in parallel (whole "
                                "tasks each; tables are read back at the end).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Recompute cells whose stored results another "
                               "configuration produced (default: refuse).")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  launch.initialize(_DISTRIBUTED)
  config = _CONFIG.value
  with config.unlocked():
    config.num_trials = _TRIALS.value
  task_trials = {}
  for spec in _TASK_TRIALS.value:
    name, sep, n = spec.partition("=")
    if not sep or not n.isdigit() or int(n) < 1:
      raise app.UsageError(f"--task_trials entry {spec!r}: want TASK=N with N >= 1")
    task_trials[name] = int(n)
  try:
    benchmark.run(config, _WORKDIR.value, _METHODS.value, _TASKS.value,
                  [int(m) for m in _SAMPLES.value], overwrite=_OVERWRITE.value,
                  task_trials=task_trials, workers=_WORKERS.value)
  except (StaleResultsError, benchmark.TaskFailed) as e:
    sys.exit(f"error: {e}")
  print(f"wrote {_WORKDIR.value}/benchmark.md")


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
