"""Lists the task suite and writes a device-correlation heatmap with a task's split marked.

  LATPRED_DATA_DIR=../shared/data python experiments/tasks.py --heatmap_task=ND --out=out/tasks
"""

import pathlib

from absl import app, flags

from latpred.data import load_latency_table
from latpred.protocol import plots, tasks

_DATA_DIR = flags.DEFINE_string("data_dir", "", "Data directory (default: $LATPRED_DATA_DIR, "
                                "else the user cache; downloaded if missing).")
_TASK = flags.DEFINE_string("heatmap_task", "ND", "Task whose split the heatmap marks.")
_OUT = flags.DEFINE_string("out", "out/tasks", "Directory for the heatmap PNG.")


def main(argv):
  del argv
  for task in tasks.TASKS.values():
    print(tasks.describe(task))
  task = tasks.get_task(_TASK.value)
  table = load_latency_table(task.space, _DATA_DIR.value or None)
  corr = tasks.hw_correlation(table.latency_ms_HxA)
  path = plots.hw_correlation_heatmap(
      corr, table.hw_names, pathlib.Path(_OUT.value) / f"hw_correlation_{task.name}.png",
      task.train_hw, task.test_hw,
      title=f"{task.space}: latency rank correlation; task {task.name} "
      "(blue: training, red: target)")
  print(f"heatmap written to {path}")


if __name__ == "__main__":
  app.run(main)
