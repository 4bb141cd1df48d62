"""Per-space tables of measured latency (ms), architecture lists and FBNet zero-cost proxies.

Key: H = measured hardware devices ("hw"), A = architectures of the space, Z = proxies.
"""

import dataclasses
import functools
import json
import pathlib
from typing import Sequence

import numpy as np

from latpred.data import sources
from latpred.data.safe_pickle import load_pt

SPACES = ("nb201", "fbnet")
NUM_ARCHS = {"nb201": 15625, "fbnet": 5000}
_FOLDER = {"nb201": "help/nasbench201", "fbnet": "help/fbnet"}
ZCP_FILE = "nasflat/zc_fbnet.json"
ZCP_NAMES = ("synflow", "zen", "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov",
             "l2_norm", "nwot", "params", "plain", "snip")


def check_space(space: str) -> str:
  if space not in SPACES:
    raise ValueError(f"unknown search space {space!r}; valid: {', '.join(SPACES)}")
  return space


def hw_names(space: str) -> tuple[str, ...]:
  """The measured devices of a space, sorted, named exactly as in the data files."""
  prefix = f"{_FOLDER[check_space(space)]}/latency/"
  return tuple(sorted(p[len(prefix):-3] for p in sources.manifest() if p.startswith(prefix)))


def space_files(space: str) -> list[str]:
  """Every data file (relative path) that the space's tables read."""
  folder = _FOLDER[check_space(space)]
  files = [f"{folder}/latency/{name}.pt" for name in hw_names(space)]
  if space == "nb201":
    return files + [f"{folder}/str_arch2idx.pt"]
  return files + [f"{folder}/metainfo.pt", f"{folder}/arch.pt", ZCP_FILE]


@dataclasses.dataclass(frozen=True, eq=False)
class LatencyTable:
  """Measured latency of every architecture of a space on every device, in milliseconds."""

  space: str
  hw_names: tuple[str, ...]
  latency_ms_HxA: np.ndarray  # float32 [num_hw, num_archs]

  @property
  def num_hw(self) -> int:
    return len(self.hw_names)

  @property
  def num_archs(self) -> int:
    return self.latency_ms_HxA.shape[1]

  def hw_index(self, name: str) -> int:
    """Row of device `name`; an unknown name raises an error listing the valid ones."""
    try:
      return self.hw_names.index(name)
    except ValueError:
      raise KeyError(f"unknown {self.space} device {name!r}; valid: "
                     f"{', '.join(self.hw_names)}") from None

  def hw_indices(self, names: Sequence[str]) -> np.ndarray:
    return np.array([self.hw_index(n) for n in names], dtype=np.int32)

  def latency_ms(self, name: str) -> np.ndarray:
    return self.latency_ms_HxA[self.hw_index(name)]


def _as_float_list(obj, path: pathlib.Path, n: int) -> np.ndarray:
  if not isinstance(obj, list) or len(obj) != n:
    raise ValueError(f"{path}: expected a list of {n} latencies, got {type(obj).__name__} of "
                     f"length {len(obj) if hasattr(obj, '__len__') else '?'}")
  arr = np.asarray(obj, dtype=np.float64)
  if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
    raise ValueError(f"{path}: latencies must be finite and positive")
  return arr.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _load_table(space: str, root: pathlib.Path) -> LatencyTable:
  names = hw_names(space)
  folder = root / _FOLDER[space]
  rows = [_as_float_list(load_pt(folder / "latency" / f"{n}.pt"), folder / "latency" / f"{n}.pt",
                         NUM_ARCHS[space]) for n in names]
  table = np.stack(rows)
  table.setflags(write=False)
  return LatencyTable(space=space, hw_names=names, latency_ms_HxA=table)


def load_latency_table(space: str, data_dir=None, *, download: bool = True) -> LatencyTable:
  """The measured latency table of `space` ('nb201' or 'fbnet'); cached per directory."""
  root = sources.ensure_files(space_files(space), data_dir, download=download)
  return _load_table(check_space(space), root)


@functools.lru_cache(maxsize=4)
def _load_nb201_archs(root: pathlib.Path) -> tuple[str, ...]:
  path = root / _FOLDER["nb201"] / "str_arch2idx.pt"
  mapping = load_pt(path)
  if not isinstance(mapping, dict):
    raise ValueError(f"{path}: expected a dict of arch string -> index")
  archs = [None] * NUM_ARCHS["nb201"]
  for arch, idx in mapping.items():
    i = int(idx)
    if not 0 <= i < len(archs) or archs[i] is not None:
      raise ValueError(f"{path}: index {idx!r} of {arch!r} is out of range or repeated")
    archs[i] = arch
  if any(a is None for a in archs):
    raise ValueError(f"{path}: not every index 0..{len(archs) - 1} has an architecture")
  return tuple(archs)


def load_nb201_archs(data_dir=None, *, download: bool = True) -> tuple[str, ...]:
  """NB201 arch strings, position = architecture index used by the latency files."""
  root = sources.ensure_files(space_files("nb201"), data_dir, download=download)
  return _load_nb201_archs(root)


@functools.lru_cache(maxsize=4)
def _load_fbnet_archs(root: pathlib.Path) -> np.ndarray:
  meta_path = root / _FOLDER["fbnet"] / "metainfo.pt"
  meta = load_pt(meta_path)
  ops = np.asarray([a["op_idx_list"] for a in meta["arch"]], dtype=np.int32)
  plain = np.asarray(load_pt(root / _FOLDER["fbnet"] / "arch.pt"), dtype=np.int32)
  if ops.shape != (NUM_ARCHS["fbnet"], 22) or not np.array_equal(ops, plain):
    raise ValueError(f"{meta_path}: op lists disagree with arch.pt or are not 5000x22")
  ops.setflags(write=False)
  return ops


def load_fbnet_archs(data_dir=None, *, download: bool = True) -> np.ndarray:
  """FBNet op ids, int32 [5000, 22]; row = architecture index used by the latency files."""
  root = sources.ensure_files(space_files("fbnet"), data_dir, download=download)
  return _load_fbnet_archs(root)


@functools.lru_cache(maxsize=4)
def _load_fbnet_zcp(root: pathlib.Path) -> np.ndarray:
  path = root / ZCP_FILE
  with open(path) as f:
    scores = json.load(f)
  ops = _load_fbnet_archs(root)
  out = np.empty((len(ops), len(ZCP_NAMES)), dtype=np.float64)
  for i, row in enumerate(ops):
    key = "_".join(str(int(o)) for o in row)
    if key not in scores:
      raise ValueError(f"{path}: no proxies for FBNet architecture {i} ({key})")
    out[i] = [scores[key][name] for name in ZCP_NAMES]
  out.setflags(write=False)
  return out


def load_fbnet_zcp(data_dir=None, *, download: bool = True) -> np.ndarray:
  """FBNet zero-cost proxies, float64 [5000, 13], columns in `ZCP_NAMES` order (raw values)."""
  root = sources.ensure_files(space_files("fbnet"), data_dir, download=download)
  return _load_fbnet_zcp(root)



def load_help_reference_indices(space: str, data_dir=None, *, download: bool = True) -> np.ndarray:
  """HELP's 10 reference architecture indices of a space (its hardware embedding), int64 [10]."""
  rel = f"{_FOLDER[check_space(space)]}/hardware_embedding_index.pt"
  root = sources.ensure_files([rel], data_dir, download=download)
  idx = np.asarray(load_pt(root / rel), np.int64)
  if idx.ndim != 1 or not ((0 <= idx) & (idx < NUM_ARCHS[space])).all():
    raise ValueError(f"{root / rel}: expected a list of architecture indices of {space}")
  return idx


METAD2A_FILE = "help/nasbench201/arch_generated_by_metad2a.txt"


def load_metad2a_candidates(data_dir=None, *, download: bool = True):
  """HELP's 500 MetaD2A NB201 candidates in file order: (arch strings, CIFAR-100 accuracy %).

  The file's first line is the generation time (s); then `arch_str, accuracy, ...` per line.
  """
  root = sources.ensure_files([METAD2A_FILE], data_dir, download=download)
  path = root / METAD2A_FILE
  archs, acc = [], []
  for line_no, line in enumerate(path.read_text().splitlines()[1:], start=2):
    if not line.strip():
      continue
    fields = [f.strip() for f in line.split(",")]
    try:
      archs.append(fields[0])
      acc.append(float(fields[1]))
    except (IndexError, ValueError):
      raise ValueError(f"{path}, line {line_no}: expected 'arch_str, accuracy, ...'") from None
  return tuple(archs), np.array(acc, np.float64)
