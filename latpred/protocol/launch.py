"""Flags shared by the launchers for multi-process runs (jax.distributed), defined once here.

  --coordinator_address=HOST:PORT --num_processes=N --process_id=I   (every process, same address)
  LATPRED_DISTRIBUTED=auto                                          (TPU pods, SLURM: detected)

Without them a launcher runs as one process on its local devices. `initialize` also caps glibc's
malloc arenas (`limit_malloc_arenas`) and keeps compiled programs on disk
(`enable_compilation_cache`).
"""

import ctypes
import ctypes.util
import os
import pathlib
from typing import Optional

import jax
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


CACHE_ENV = "LATPRED_COMPILATION_CACHE"
CACHE_OFF = ("", "off")


def compilation_cache_dir(environ=None) -> Optional[str]:
  """Where `enable_compilation_cache` keeps compiled programs: $LATPRED_COMPILATION_CACHE (a
  folder; '' or 'off': nowhere), else nowhere of latpred's when JAX_COMPILATION_CACHE_DIR is set
  (JAX then uses that folder itself), else $XDG_CACHE_HOME/latpred/jax (~/.cache/...)."""
  env = os.environ if environ is None else environ
  if CACHE_ENV in env:
    return None if env[CACHE_ENV].strip().lower() in CACHE_OFF else env[CACHE_ENV]
  if env.get("JAX_COMPILATION_CACHE_DIR"):
    return None
  home = env.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
  return str(pathlib.Path(home) / "latpred" / "jax")


def enable_compilation_cache(directory: Optional[str] = None) -> Optional[str]:
  """Keeps every compiled program in JAX's persistent cache at `directory` (default
  `compilation_cache_dir()`; '' or 'off': none), so that a new process loads a program compiled
  before instead of compiling it again; returns the folder (None: left off). Call it before the
  first JAX computation of the process. Every program is kept, however short its compilation
  (the fine-tune's is 3.6 s on FBNet, the predict program's 0.7 s); a FBNet adaptation's programs
  take 0.5 MB (the folder can be deleted at any time; JAX's size cap needs the `filelock` package,
  not a dependency of latpred). Measured on the 2-core CPU (session 12, docs/throughput.md):
  a FBNet target's adaptation from 20 samples in a new process took 8.6 s with nothing cached
  and 4.6 s once its programs were (medians of 4 and 3 processes)."""
  if directory is None:
    directory = compilation_cache_dir()
  elif directory.strip().lower() in CACHE_OFF:
    directory = None
  if directory is None:
    return None
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  return directory


def active_cache_dir() -> Optional[str]:
  """The compilation cache folder this process uses (None: none), e.g. to hand to workers."""
  return jax.config.jax_compilation_cache_dir


def start_process(cache_dir: Optional[str] = None) -> Optional[str]:
  """What every launcher process does first: `limit_malloc_arenas`, then
  `enable_compilation_cache(cache_dir)`; returns the cache folder (None: off)."""
  limit_malloc_arenas()
  return enable_compilation_cache(cache_dir)


def initialize(holders: dict) -> None:
  """`start_process`, then `mesh.initialize` from the flags' values (nothing for a single
  process)."""
  start_process()
  mesh.initialize(holders["coordinator_address"].value, holders["num_processes"].value,
                  holders["process_id"].value)
