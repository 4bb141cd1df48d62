"""Flags shared by the launchers for multi-process runs (jax.distributed), defined once here.

  --coordinator_address=HOST:PORT --num_processes=N --process_id=I   (every process, same address)
  LATPRED_DISTRIBUTED=auto                                          (TPU pods, SLURM: detected)

Without them a launcher runs as one process on its local devices. `initialize` also caps glibc's
malloc arenas (`limit_malloc_arenas`).
"""

import ctypes
import ctypes.util
import os

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


MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
  """Caps glibc's malloc arenas at `arenas` (what MALLOC_ARENA_MAX does), unless the environment
  sets MALLOC_ARENA_MAX itself; returns whether the cap is set. glibc gives each thread of XLA's
  pools an arena of its own, which kept freed compiler memory: the README's FD job peaked at
  1.11 GB resident with the default, 1.00 GB with this cap and 0.98 GB with MALLOC_ARENA_MAX=2,
  in the same time (docs/throughput.md). Not glibc (macOS, musl): nothing to do, False."""
  if "MALLOC_ARENA_MAX" in os.environ:
    return False
  name = ctypes.util.find_library("c")
  try:
    libc = ctypes.CDLL(name) if name else None
  except OSError:
    libc = None
  if libc is None or not hasattr(libc, "mallopt"):
    return False
  return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def initialize(holders: dict) -> None:
  """`limit_malloc_arenas`, then `mesh.initialize` from the flags' values (nothing for a single
  process)."""
  limit_malloc_arenas()
  mesh.initialize(holders["coordinator_address"].value, holders["num_processes"].value,
                  holders["process_id"].value)
