"""Speed anchors: put measurements made at different machine speeds on one scale.

A shared machine's speed drifts over minutes: on the 2-core VM two runs of the same 50 NB201
cells differed by a common factor of 0.75-1.16 while their ranks agreed at Spearman 0.98
(docs/measure.md). No timing loop removes that, but a common factor can be measured: a few fixed
*anchor* networks are timed with every group of a measurement, interleaved with it, and each
group's latencies are divided by the group's speed factor

  F_g = median over anchors a of (anchor a's latency in group g / its reference latency).

The reference latencies come from an earlier measurement (`--reference`: the anchors are picked
among its architectures, spread over its latency range, avoiding the ones being measured) or,
without one, from this run itself (each anchor's median over the run's groups, so that groups
timed minutes apart agree with each other). The result is milliseconds at the speed the
machine had during the reference (or over this run); the raw values stay in the sidecar.
"""

import dataclasses
from typing import Mapping, Optional, Sequence

import numpy as np

DEFAULT_ANCHORS = 8


class AnchorError(ValueError):
  """Anchors that cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class Anchors:
  archs: tuple[str, ...]
  reference_ms: Optional[tuple[float, ...]]  # None: this run's own groups are the reference
  reference: str  # where the reference latencies come from (a path, or 'this run')

  def as_dict(self) -> dict:
    out = dataclasses.asdict(self)
    out["archs"] = list(self.archs)
    out["reference_ms"] = None if self.reference_ms is None else list(self.reference_ms)
    return out


def pick_from_reference(reference_ms: Mapping[str, float], exclude: Sequence[str], k: int,
                        source: str) -> Anchors:
  """`k` architectures of an earlier measurement (arch -> ms), at evenly spaced quantiles of
  its latencies, preferring architectures not in `exclude` (those being measured now, so that
  anchors never score themselves)."""
  if k < 1:
    raise AnchorError(f"need at least 1 anchor, got {k}")
  excluded = set(exclude)
  pool = [a for a in reference_ms if a not in excluded] or list(reference_ms)
  if len(pool) < k:
    raise AnchorError(f"{source}: {len(pool)} architecture(s) to anchor to (outside the list "
                      f"being measured), {k} anchors asked; pass --anchors={len(pool)} or fewer")
  pool.sort(key=lambda a: (reference_ms[a], a))
  picks = [pool[int((i + 0.5) * len(pool) / k)] for i in range(k)]
  return Anchors(tuple(picks), tuple(float(reference_ms[a]) for a in picks), source)


def pick_from_list(archs: Sequence[str], k: int) -> Anchors:
  """`k` evenly spaced architectures of the list being measured, referenced to this run."""
  if k < 1:
    raise AnchorError(f"need at least 1 anchor, got {k}")
  k = min(k, len(archs))
  return Anchors(tuple(archs[int((i + 0.5) * len(archs) / k)] for i in range(k)), None,
                 "this run")


def references(anchors: Anchors, group_anchor_ms: Sequence[Sequence[float]]) -> np.ndarray:
  """Each anchor's reference latency [K]: the earlier measurement's, or its median over this
  run's groups ([G][K] ms)."""
  if anchors.reference_ms is not None:
    return np.asarray(anchors.reference_ms, np.float64)
  return np.median(np.asarray(group_anchor_ms, np.float64), axis=0)


def speed_factors(anchors: Anchors, group_anchor_ms: Sequence[Sequence[float]]) -> np.ndarray:
  """Each group's speed factor [G] (module doc): above 1, the machine was slower than in the
  reference."""
  x = np.asarray(group_anchor_ms, np.float64)
  if x.ndim != 2 or x.shape[1] != len(anchors.archs):
    raise AnchorError(f"need [groups, {len(anchors.archs)}] anchor latencies, got {x.shape}")
  if not (np.isfinite(x).all() and (x > 0).all()):
    raise AnchorError("anchor latencies must be finite and positive")
  return np.median(x / references(anchors, x)[None, :], axis=1)
