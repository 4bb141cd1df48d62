"""Supplementary per-architecture encodings, computed once per space and cached in memory.

- 'zcp' (FBNet only): the 13 zero-cost proxies, normalised as the NASFLAT reference did: log1p then
  min-max for the heavy-tailed ones, z-score for grasp, min-max for the rest.
- 'flops_params': log FLOPs and log params, min-max normalised.
- 'opcount': how many times each op type occurs, divided by the number of op slots.
Names combine with '+', e.g. 'zcp+flops_params'. 'none' or '' means no encoding.
"""

import functools

import numpy as np

from latpred.data import tables
from latpred.spaces import SearchSpace

KINDS = ("zcp", "flops_params", "opcount", "onehot")
_LOG_MINMAX = ("fisher", "flops", "grad_norm", "params", "snip", "synflow")
_ZSCORE = ("grasp",)
VERSION = 1  # bump when an encoding changes; stored with checkpoints


def _minmax(x):
  lo, hi = x.min(axis=0), x.max(axis=0)
  return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def normalise_zcp(zcp_AxZ: np.ndarray) -> np.ndarray:
  out = np.empty_like(zcp_AxZ, dtype=np.float64)
  for j, name in enumerate(tables.ZCP_NAMES):
    col = zcp_AxZ[:, j].astype(np.float64)
    if name in _LOG_MINMAX:
      out[:, j] = _minmax(np.log1p(col - min(0.0, col.min())))
    elif name in _ZSCORE:
      out[:, j] = (col - col.mean()) / (col.std() or 1.0)
    else:
      out[:, j] = _minmax(col)
  return out


def parse_kinds(spec: str) -> tuple[str, ...]:
  if spec in ("", "none"):
    return ()
  kinds = tuple(spec.split("+"))
  for k in kinds:
    if k not in KINDS:
      raise ValueError(f"unknown encoding {k!r} in {spec!r}; valid: none, "
                       f"{', '.join(KINDS)} (joined with '+')")
  return kinds


@functools.lru_cache(maxsize=16)
def encoding(space: SearchSpace, spec: str, data_dir=None) -> np.ndarray:
  """float32 [A, D] encoding of every architecture of `space` (D = 0 for 'none')."""
  parts = []
  for kind in parse_kinds(spec):
    if kind == "zcp":
      if space.name != "fbnet":
        raise ValueError("zero-cost proxies ('zcp') are available for fbnet only")
      parts.append(normalise_zcp(tables.load_fbnet_zcp(data_dir)))
    elif kind == "flops_params":
      parts.append(_minmax(np.log(np.stack([space.mflops_A, space.mparams_A], 1))))
    elif kind == "opcount":
      types = space.graph_set.node_types_AxN
      counts = np.stack([(types == t).sum(1) for t in range(2, len(space.node_types))], 1)
      parts.append(counts / max(1, types.shape[1] - 2))
    elif kind == "onehot":  # node type per node position (the op at each edge / layer)
      types = space.graph_set.node_types_AxN
      parts.append(np.eye(len(space.node_types))[types].reshape(len(types), -1))
  if not parts:
    return np.zeros((space.num_archs, 0), np.float32)
  out = np.concatenate(parts, 1).astype(np.float32)
  out.setflags(write=False)
  return out
