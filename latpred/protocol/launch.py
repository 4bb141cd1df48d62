"""Flags shared by the launchers for multi-process runs (jax.distributed), defined once here.

  --coordinator_address=HOST:PORT --num_processes=N --process_id=I   (every process, same address)
  LATPRED_DISTRIBUTED=auto                                          (TPU pods, SLURM: detected)

Without them a launcher runs as one process on its local devices.
"""

from absl import flags

from latpred.train import mesh


def define_flags() -> dict:
  """Defines the three flags (call once, at a launcher's import) and returns their holders."""
  return {
      "coordinator_address": flags.DEFINE_string(
          "coordinator_address", "", "host:port of process 0's coordinator (jax.distributed); "
          "empty: one process, or auto-detection with LATPRED_DISTRIBUTED=auto"),
      "num_processes": flags.DEFINE_integer("num_processes", 0, "Processes in the run (0: one, "
                                            "or detected)."),
      "process_id": flags.DEFINE_integer("process_id", -1, "This process's index (-1: detected)."),
  }


def initialize(holders: dict) -> None:
  """`mesh.initialize` from the flags' values (nothing for a single process)."""
  mesh.initialize(holders["coordinator_address"].value, holders["num_processes"].value,
                  holders["process_id"].value)
