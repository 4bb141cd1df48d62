"""Measuring architectures on the local JAX backend (step 3 of suggest -> measure -> adapt).

  measure(archs, "my_device.csv", Plan("nb201"))

writes `my_device.csv` (`arch,latency_ms`, milliseconds: what experiments/adapt.py reads) and
`my_device.json` beside it (backend, device kind, batch size, timing settings, versions, machine,
command, date, peak memory, and every architecture's timing). Architectures are compiled and
timed in groups of `Plan.group` (100; 0 = all at once), as `latpred.apps.timing` describes:
compiled outside the timing, then rounds of warm-up and timed calls interleaved over the group.
A network whose round medians disagree (relative standard error above `Plan.max_uncertainty`)
is warned about and flagged in the sidecar, or refused (`Plan.on_noisy`).

Speed anchors (`latpred.apps.anchors`): `Plan.anchors` fixed networks are timed with every group
when there is something to anchor to, an earlier measurement (`reference`) or other groups of
this run, and each group's latencies are divided by its speed factor; the CSV then holds
milliseconds at the reference's speed, the sidecar the raw values (`raw_latency_ms`) and the
factors. One group and no reference: no anchors (nothing to put on a common scale).

Nothing is lost on a crash and nothing partial looks complete: each finished group is appended
(and flushed to disk) to `my_device.csv.partial.jsonl`, whose first line records the plan; a
rerun with the same plan resumes from it and a different plan is refused. The CSV and JSON are
written only when every architecture is measured, then the partial file is removed.
"""

import dataclasses
import datetime
import json
import os
import pathlib
import platform
import resource
import sys
import time
from typing import Callable, Sequence

import jax

from latpred import networks
from latpred.apps import anchors as anchors_lib
from latpred.apps import timing as timing_lib
from latpred.data import tables

POLICIES = ("warn", "refuse")


class MeasureError(RuntimeError):
  """A measurement that cannot go on; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Plan:
  space: str
  resolution: str = ""  # FBNet: 'imagenet' (default) or 'cifar100'
  timing: timing_lib.Settings = timing_lib.Settings()
  group: int = 100  # networks compiled and timed together (0: all; smaller bounds the memory)
  max_uncertainty: float = 0.10  # relative robust standard error of a latency (timing.Timing)
  on_noisy: str = "warn"  # or 'refuse'
  seed: int = 0
  anchors: int = anchors_lib.DEFAULT_ANCHORS  # speed anchors per group (0: none)

  def __post_init__(self):
    tables.check_space(self.space)
    if self.on_noisy not in POLICIES:
      raise ValueError(f"on_noisy={self.on_noisy!r}; valid: {', '.join(POLICIES)}")
    if not self.max_uncertainty > 0 or self.group < 0 or self.anchors < 0:
      raise ValueError("max_uncertainty must be positive, group and anchors at least 0")

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)


def partial_path(out) -> pathlib.Path:
  out = pathlib.Path(out)
  return out.with_name(out.name + ".partial.jsonl")


def sidecar_path(out) -> pathlib.Path:
  return pathlib.Path(out).with_suffix(".json")


def _peak_memory_mb() -> float:
  """Peak resident memory of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return peak / 2 ** 20 if sys.platform == "darwin" else peak / 2 ** 10


def backend_info() -> dict:
  device = jax.devices()[0]
  return {"backend": jax.default_backend(), "device_kind": device.device_kind,
          "device_count": jax.device_count()}


def _versions() -> dict:
  import flax
  import jaxlib
  import numpy
  return {"python": platform.python_version(), "jax": jax.__version__,
          "jaxlib": jaxlib.__version__, "flax": flax.__version__, "numpy": numpy.__version__}


def _cpu_model() -> str:
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _machine() -> dict:
  return {"host": platform.node(), "platform": platform.platform(), "cpu": _cpu_model(),
          "cpu_count": os.cpu_count()}


def _header(plan: Plan, archs: Sequence[str], anchors=None) -> dict:
  return {"plan": plan.as_dict(), **backend_info(), "archs": list(archs),
          "anchors": None if anchors is None else anchors.as_dict()}


def choose_anchors(archs: Sequence[str], plan: Plan, reference=None,
                   reference_source: str = "") -> "anchors_lib.Anchors | None":
  """The run's speed anchors (module doc): picked from `reference` (arch -> ms of an earlier
  measurement) if given, else from `archs` when they take more than one group, else None."""
  if reference is not None:
    if not plan.anchors:
      raise ValueError("a reference measurement needs anchors (--anchors at least 1)")
    return anchors_lib.pick_from_reference(reference, archs, plan.anchors,
                                           reference_source or "reference")
  groups = -(-len(archs) // plan.group) if plan.group else 1
  if not plan.anchors or groups < 2:
    return None
  return anchors_lib.pick_from_list(archs, plan.anchors)


def _resume(path: pathlib.Path, header: dict, log) -> tuple[dict[str, dict], dict[int, list]]:
  """(finished records by arch, anchor timings by group) of an earlier run with the same
  header; refuses a different one. A last line cut short by a crash is dropped from the file
  (its architectures are measured again)."""
  text = path.read_text()
  if text and not text.endswith("\n"):  # cut short by a crash while writing
    log(f"{path}: its last line is incomplete; measuring its architectures again")
    text = text[:text.rfind("\n") + 1]
    path.write_text(text)
  lines = text.splitlines()
  if not lines:
    return {}, {}
  earlier = json.loads(lines[0])
  if earlier != header:
    diff = sorted(k for k in set(earlier) | set(header) if earlier.get(k) != header.get(k))
    raise MeasureError(f"{path} holds an unfinished measurement with a different "
                       f"{', '.join(diff)}; rerun it as it was, or delete {path} to start again")
  done, anchor_groups = {}, {}
  for k, line in enumerate(lines[1:], start=2):
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      raise MeasureError(f"{path}: line {k} is not JSON; delete the file to start again") from None
    if "anchor_group" in record:
      anchor_groups[record["anchor_group"]] = record["anchors"]
    else:
      done[record["arch"]] = record
  return done, anchor_groups


def _append(f, records: list[dict]) -> None:
  """Writes one JSON line per record, then flushes them to disk."""
  f.write("".join(json.dumps(r) + "\n" for r in records))
  f.flush()
  os.fsync(f.fileno())


def _eta(seconds: float) -> str:
  m, s = divmod(int(round(seconds)), 60)
  return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"


def _write_atomic(path: pathlib.Path, text: str) -> None:
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def measure(archs: Sequence[str], out, plan: Plan, *, reference=None, reference_source: str = "",
            log: Callable[[str], None] = print, time_fn=timing_lib.time_networks) -> dict:
  """Measures every architecture (canonical names of `plan.space`) and writes `out` (CSV) and
  its sidecar JSON; resumes an interrupted run. Returns the sidecar's content. `reference`:
  arch -> ms of an earlier measurement on this machine to anchor to (`reference_source` names
  it), see the module doc.

  Raises:
    FileExistsError: `out` exists (a finished measurement is never overwritten).
    MeasureError: a partial file of a different plan, or a refused noisy architecture (the
      group's other architectures are kept in the partial file).
    ValueError: a reference with `plan.anchors` 0, or fewer reference architectures outside
      `archs` than anchors asked (`anchors.AnchorError`).
  """
  out = pathlib.Path(out)
  if sidecar_path(out) == out:
    raise ValueError(f"--out {out}: name the CSV with a .csv suffix (the sidecar is .json)")
  if out.exists():
    raise FileExistsError(f"{out} exists; choose another --out or delete it")
  out.parent.mkdir(parents=True, exist_ok=True)
  anchors = choose_anchors(archs, plan, reference, reference_source)
  header = _header(plan, archs, anchors)
  partial = partial_path(out)
  done, anchor_groups = _resume(partial, header, log) if partial.exists() else ({}, {})
  if done:
    log(f"resuming: {len(done)} of {len(archs)} architectures already measured in {partial}")
  todo = [a for a in archs if a not in done]
  size = plan.group or len(todo) or 1
  groups = [todo[i:i + size] for i in range(0, len(todo), size)]
  if anchors is not None:
    log(f"speed anchors ({len(anchors.archs)} networks timed with every group), referenced to "
        f"{anchors.reference}")
  start = time.perf_counter()
  with open(partial, "a") as f:
    if not f.tell():
      _append(f, [header])
    for g, group in enumerate(groups, start=1):
      log(f"group {g}/{len(groups)}: {len(group)} networks")
      names = list(group) + (list(anchors.archs) if anchors is not None else [])
      builds = [networks.build(plan.space, a, plan.resolution) for a in names]
      timings = time_fn(builds, plan.timing, plan.seed, log)
      gid = None
      if anchors is not None:
        gid = len(anchor_groups)
        anchor_groups[gid] = [t.as_dict() for t in timings[len(group):]]
        _append(f, [{"anchor_group": gid, "anchors": anchor_groups[gid]}])
        _log_speed(anchors, anchor_groups[gid], log)
      refused = _record_group(f, group, timings[:len(group)], plan, done, log, gid)
      if refused:
        raise MeasureError(f"{len(refused)} noisy architecture(s) refused ({refused[0]}, ...): "
                           f"is the machine busy? Rerun to measure them again; the others are "
                           f"kept in {partial}.")
      elapsed = time.perf_counter() - start
      log(f"[{len(done)}/{len(archs)}] measured; elapsed {_eta(elapsed)}, ETA "
          f"{_eta(elapsed / g * (len(groups) - g))}")
  return _finish(out, archs, done, header, plan, anchors, anchor_groups, log)


def _log_speed(anchors, group_anchors: list[dict], log) -> None:
  if anchors.reference_ms is not None:
    factor = anchors_lib.speed_factors(anchors, [[t["latency_ms"] for t in group_anchors]])[0]
    log(f"  anchors: this group ran at {factor:.3f}x the reference's latencies")


def _record_group(f, group, timings, plan: Plan, done: dict, log, gid) -> list[str]:
  """Appends the group's records (with their anchor group `gid`, if anchored); returns the
  architectures refused as noisy."""
  refused, kept = [], []
  for arch, t in zip(group, timings):
    noisy = t.uncertainty > plan.max_uncertainty
    note = f"  (noisy: uncertainty {t.uncertainty:.1%})" if noisy else ""
    log(f"  {t.latency_ms:9.3f} ms (IQR {t.q25_ms:.3f}-{t.q75_ms:.3f}, compile "
        f"{t.compile_s:.1f} s){note}  {arch}")
    if noisy and plan.on_noisy == "refuse":
      refused.append(arch)
    else:
      kept.append({"arch": arch, **t.as_dict(), "flagged": noisy,
                   **({} if gid is None else {"group": gid})})
  _append(f, kept)
  done.update((r["arch"], r) for r in kept)
  flagged = sum(r["flagged"] for r in kept)
  if flagged:
    log(f"warning: {flagged} network(s) with uncertainty above {plan.max_uncertainty:.0%} "
        "(flagged in the sidecar); is the machine busy?")
  return refused


def _anchored(records: list[dict], anchors, anchor_groups: dict, log) -> tuple[list, dict]:
  """(records with `latency_ms` divided by their group's speed factor, the raw value kept as
  `raw_latency_ms`; the sidecar's anchors entry)."""
  gids = sorted(anchor_groups)
  group_ms = [[t["latency_ms"] for t in anchor_groups[g]] for g in gids]
  factors = anchors_lib.speed_factors(anchors, group_ms)
  factor = dict(zip(gids, factors.tolist()))
  log(f"anchors: group speed factors {', '.join(f'{x:.3f}' for x in factors)} (1 = the "
      f"reference: {anchors.reference})")
  out = [{**r, "latency_ms": r["latency_ms"] / factor[r["group"]],
          "raw_latency_ms": r["latency_ms"], "speed_factor": factor[r["group"]]}
         for r in records]
  info = {**anchors.as_dict(),
          "reference_used_ms": anchors_lib.references(anchors, group_ms).tolist(),
          "groups": [{"group": g, "speed_factor": factor[g], "anchors": anchor_groups[g]}
                     for g in gids]}
  return out, info


def _finish(out: pathlib.Path, archs, done: dict, header: dict, plan: Plan, anchors=None,
            anchor_groups=None, log=print) -> dict:
  records = [done[a] for a in archs]
  anchor_info = None
  if anchors is not None:
    records, anchor_info = _anchored(records, anchors, anchor_groups, log)
  rows = ["arch,latency_ms"] + [f"{r['arch']},{r['latency_ms']:.6g}" for r in records]
  sidecar = {
      "what": f"latency (ms) of {len(archs)} {plan.space} networks at batch "
              f"{plan.timing.batch}, measured by latpred.apps.measure"
              + ("" if anchors is None else f"; each group's values divided by its speed factor "
                 f"(anchors referenced to {anchors.reference}; raw_latency_ms: as timed)"),
      "csv": out.name, **{k: v for k, v in header.items() if k not in ("archs", "anchors")},
      "anchors": anchor_info,
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "command": " ".join(sys.argv), "machine": _machine(), "versions": _versions(),
      "flagged": sum(bool(done[a]["flagged"]) for a in archs),
      "peak_memory_mb": _peak_memory_mb(),
      "records": records,
  }
  _write_atomic(sidecar_path(out), json.dumps(sidecar, indent=1) + "\n")
  _write_atomic(out, "\n".join(rows) + "\n")
  partial_path(out).unlink()
  return sidecar
