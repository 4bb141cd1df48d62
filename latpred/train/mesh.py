"""Which accelerators a run uses, and how independent runs are laid over them.

Independent trainings (pretraining: trials x ensemble members; fine-tunes: members x
cross-fitting folds) are stacked on a leading *runs* axis and run as one vmapped program
(`latpred.train.loop.fit_runs`). With more than one device, that axis is sharded over a
one-dimensional `Mesh` named 'runs' (`NamedSharding(mesh, P('runs'))`), padded to a multiple of
the device count by repeating the first run; everything the runs share (the graph arrays, the
supplementary encoding) is replicated. With one device the runs go one after the other: on the
2-core CPU that measured 1.12-1.19x faster than one vmapped program (docs/vmap.md). "One after
the other" is the host's order of calls: `Runs.threads` host threads each dispatch their own
runs, and the backend executes their programs side by side (a fine-tune's small steps leave a
core idle: on the 2-core CPU, 2 threads took a FBNet target's adaptation, 18 fine-tunes, from
4.6 to 3.3 s with bit-identical results; docs/throughput.md). Pretraining does not use them:
its steps, vmapped over the training devices, already keep both cores busy (3 FBNet members on
2 threads, saves serialised: 74 -> about 70 s, not worth members' times that overlap), and
orbax's checkpoint managers deadlocked when two threads saved at once.

Several processes (`jax.distributed`, `initialize`): the mesh spans every process's devices;
every process runs the same host code on the same data (so the same programs, in the same
order), each device computes its shard, and results come back whole to every process
(`to_host`). Only process 0 writes shared outputs (`Runs.is_writer`).
"""

import concurrent.futures
import dataclasses
import os
from typing import Callable, Optional, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "runs"
DEFAULT_THREADS = 2  # config.parallel.threads where a config (e.g. a checkpoint's) lacks it


def resolve(devices: int, local: bool = False) -> list:
  """The devices a run uses: -1 = all (every process's, or this process's with `local`), n = the
  first n.

  Raises:
    ValueError: n outside [1, available], or another negative number.
  """
  available = jax.local_devices() if local else jax.devices()
  if devices == -1:
    return list(available)
  if not 1 <= devices <= len(available):
    raise ValueError(f"config.parallel.devices={devices}: use -1 (all) or 1..{len(available)} "
                     f"({len(available)} {available[0].platform} devices available)")
  if not local and jax.process_count() > 1 and devices != len(available):
    raise ValueError("with several processes, config.parallel.devices must be -1 (all)")
  return list(available[:devices])


@dataclasses.dataclass(frozen=True)
class Runs:
  """How independent runs are executed: one after the other (`mesh` None) or as one vmapped
  program sharded over `mesh`'s 'runs' axis. `local`: on this process's devices only (a process
  that owns its work, e.g. one benchmark task: it writes its own outputs and waits for nobody);
  otherwise over every process's devices (process 0 writes; the processes meet at barriers).
  `threads`: without a mesh, how many host threads dispatch the runs (`map`)."""

  mesh: Optional[Mesh] = None
  local: bool = True
  threads: int = 1

  def __post_init__(self):
    if self.threads < 1:
      raise ValueError(f"config.parallel.threads must be >= 1, got {self.threads}")

  def map(self, fn: Callable, items: Sequence) -> list:
    """[fn(item) for item in items], from `threads` host threads (one: in this thread, in
    order). Each call must be independent of the others; the first exception is raised."""
    workers = min(self.threads, len(items))
    if workers <= 1:
      return [fn(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="latpred-run") as ex:
      return list(ex.map(fn, items))

  def is_writer(self) -> bool:
    """Whether this process writes the outputs of work placed so."""
    return self.local or jax.process_index() == 0

  def barrier(self, name: str) -> None:
    """Waits for every process at `name` when the work spans processes."""
    if not self.local and jax.process_count() > 1:
      multihost_utils.sync_global_devices(name)

  @property
  def vmapped(self) -> bool:
    return self.mesh is not None

  @property
  def num_devices(self) -> int:
    return 1 if self.mesh is None else self.mesh.size

  @property
  def sharding(self) -> Optional[NamedSharding]:
    """Where a leaf with a leading runs axis lives (None without a mesh)."""
    return None if self.mesh is None else NamedSharding(self.mesh, P(AXIS))

  def padded(self, k: int) -> int:
    """k rounded up to a multiple of the device count."""
    return -(-k // self.num_devices) * self.num_devices

  def shard(self, tree_K):
    """Every leaf [k, ...] padded to `padded(k)` rows (the first run repeated) and placed with
    its leading axis over the mesh; without a mesh, unchanged (numpy or jax arrays)."""
    if self.mesh is None:
      return tree_K

    def pad(x):
      x = np.asarray(x)
      extra = self.padded(len(x)) - len(x)
      return np.concatenate([x, np.repeat(x[:1], extra, axis=0)]) if extra else x

    return _put(jax.tree_util.tree_map(pad, tree_K), self.sharding)

  def replicate(self, tree):
    """Every leaf on every device of the mesh (unchanged without a mesh)."""
    if self.mesh is None:
      return tree
    return _put(tree, NamedSharding(self.mesh, P()))


def _put(tree, sharding):
  """Every leaf as a global array laid out by `sharding`, each process supplying its shards
  from its own (identical) host copy."""
  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

  return jax.tree_util.tree_map(put, tree)


def runs_for(devices: int, local: bool = False, threads: int = 1) -> Runs:
  """`Runs` over `resolve(devices)`: sequential on one device (dispatched from `threads` host
  threads), else a mesh over all of them."""
  chosen = resolve(devices, local)
  return Runs(None if len(chosen) == 1 else Mesh(np.array(chosen), (AXIS,)),
              local=local or jax.process_count() == 1, threads=threads)


def from_config(config, local: bool = False) -> Runs:
  """`runs_for(config.parallel.devices, threads=config.parallel.threads)`; a config without
  them (a checkpoint saved before they existed) uses their defaults, -1 and DEFAULT_THREADS."""
  parallel = config.get("parallel") or {}
  return runs_for(int(parallel.get("devices", -1)), local,
                  int(parallel.get("threads", DEFAULT_THREADS)))


def to_host(x) -> np.ndarray:
  """A (possibly sharded, possibly multi-process) array, whole, as numpy on this process."""
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(x)


def info(runs: Optional[Runs] = None) -> dict:
  """What results.json records: {'process_count', 'device_count'} (devices the runs use)."""
  return {"process_count": 1 if runs is not None and runs.local else jax.process_count(),
          "device_count": runs.num_devices if runs is not None else jax.device_count(),
          "platform": jax.devices()[0].platform}


def initialize(coordinator_address: str = "", num_processes: int = 0,
               process_id: int = -1) -> None:
  """`jax.distributed.initialize` when several processes are asked for (flags or a cluster
  that JAX detects: TPU pods, SLURM with `LATPRED_DISTRIBUTED=auto`); otherwise nothing.

  On CPU, collectives across processes use gloo.
  """
  explicit = bool(coordinator_address) or num_processes > 1
  if not explicit and os.environ.get("LATPRED_DISTRIBUTED") != "auto":
    return
  jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices only
  if explicit:
    jax.distributed.initialize(coordinator_address=coordinator_address or None,
                               num_processes=num_processes or None,
                               process_id=None if process_id < 0 else process_id)
  else:
    jax.distributed.initialize()
