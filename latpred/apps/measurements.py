"""The new-device workflow's files: architectures to measure, the user's measurements, and the
predictions for every architecture of the space (CSV, latency in milliseconds).

  to_measure.csv      arch[,ops]                 (written by experiments/suggest.py)
  my_device.csv       arch,latency_ms            (the user's measurements, read here)
  predictions.csv     arch,predicted_latency_ms,rank   (written by experiments/adapt.py)

`arch` is an NB201 cell string or an FBNet '_'-joined op-id string; FBNet also accepts op ids or
op names separated by spaces or commas. Reading checks every row and reports all problems (up
to 20) with their row numbers (1 = the header) before anything is used. Files are UTF-8, with or
without the byte-order mark spreadsheet programs write; a file that is not UTF-8 is refused with
the row of its first undecodable byte; latencies whose median is below 0.1 ms are used but warned
about (seconds written into the milliseconds column?).
"""

import csv
import dataclasses
import io
import math
import pathlib
import warnings
from typing import Sequence

import numpy as np

from latpred.spaces import SearchSpace, fbnet

ARCH_COLUMN = "arch"
LATENCY_COLUMN = "latency_ms"
DUPLICATES = ("average", "refuse")
MIN_ROWS = 3
SECONDS_SUSPECT_MS = 0.1  # a median latency below this looks like seconds, not milliseconds
_MAX_REPORTED = 20


class MeasurementError(ValueError):
  """A measurements file that cannot be used; the message lists every problem found."""


@dataclasses.dataclass(frozen=True)
class Measurements:
  arch_idx: np.ndarray  # int64 [m], distinct architectures of the space
  latency_ms: np.ndarray  # float64 [m], > 0
  rows: int  # data rows read (before averaging duplicates)

  @property
  def num(self) -> int:
    return len(self.arch_idx)


def _parse_latency(text: str):
  """(value, problem): a finite positive float, or None and why not."""
  text = (text or "").strip()
  if not text:
    return None, "latency_ms is missing"
  try:
    value = float(text)
  except ValueError:
    return None, f"latency_ms {text!r} is not a number"
  if not math.isfinite(value):
    return None, f"latency_ms {text!r} is not finite"
  if value <= 0:
    return None, f"latency_ms {text!r} is not positive"
  return value, None


def _read_text(path: pathlib.Path) -> str:
  """The file as text: UTF-8, a leading byte-order mark dropped; else an error naming the row."""
  data = path.read_bytes()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    row = data[:e.start].count(b"\n") + 1
    raise MeasurementError(
        f"{path}: row {row} is not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as "
        "UTF-8 (\"CSV UTF-8\" in spreadsheet programs)") from None


def _listed(problems: list[str]) -> str:
  """The first problems, one per line, and how many more there are."""
  shown = problems[:_MAX_REPORTED]
  more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
  return "\n  ".join(shown) + more


def _rows(path) -> tuple[list[str], csv.DictReader]:
  """(header with names stripped, rows as dicts) of a UTF-8 CSV file."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise MeasurementError(f"{path}: no such file")
  reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
  reader.fieldnames = [h.strip() for h in (reader.fieldnames or [])]
  return list(reader.fieldnames), reader


def read_header(path) -> list[str]:
  """The column names of a CSV file (stripped)."""
  return _rows(path)[0]


def read_measurements(path, space: SearchSpace, duplicates: str = "average") -> Measurements:
  """Reads and checks `arch,latency_ms` rows measured on one device.

  Args:
    duplicates: 'average' (repeated architectures are averaged, with a warning) or 'refuse'.
  Raises:
    MeasurementError: a missing file or column, a file that is not UTF-8, malformed or unknown
      architectures, missing, non-numeric, NaN/inf or non-positive latencies, refused
      duplicates, fewer than 3 distinct architectures. Nothing is returned unless every row is
      usable.
  """
  if duplicates not in DUPLICATES:
    raise ValueError(f"duplicates={duplicates!r}; valid: {', '.join(DUPLICATES)}")
  header, reader = _rows(path)
  missing = [c for c in (ARCH_COLUMN, LATENCY_COLUMN) if c not in header]
  if missing:
    raise MeasurementError(f"{path}: the header needs columns {ARCH_COLUMN},{LATENCY_COLUMN} "
                           f"(latency in milliseconds); missing {', '.join(missing)}; found "
                           f"{header or 'no header'}")
  problems, seen = [], {}
  values: list[tuple[int, float]] = []
  rows = 0
  for row_no, row in enumerate(reader, start=2):
    rows += 1
    arch = (row.get(ARCH_COLUMN) or "").strip()
    try:
      if not arch:
        raise ValueError("arch is empty")
      idx = space.index_of(arch)
    except ValueError as e:
      problems.append(f"row {row_no}: {e}")
      idx = None
    value, why = _parse_latency(row.get(LATENCY_COLUMN))
    if why:
      problems.append(f"row {row_no}: {why}")
    if idx is not None and value is not None:
      seen.setdefault(idx, []).append(row_no)
      values.append((idx, value))
  if duplicates == "refuse":
    for idx, row_nos in seen.items():
      if len(row_nos) > 1:
        problems.append(f"rows {', '.join(map(str, row_nos))}: the same architecture "
                        f"{space.arch_names[idx]} (use duplicates='average' to average them)")
  if problems:
    raise MeasurementError(f"{path}: {len(problems)} problem(s) in the {space.name} "
                           "measurements:\n  " + _listed(problems))
  repeated = {idx: r for idx, r in seen.items() if len(r) > 1}
  if repeated:
    warnings.warn(f"{path}: {len(repeated)} architecture(s) measured more than once were "
                  f"averaged (rows {'; '.join(', '.join(map(str, r)) for r in repeated.values())})",
                  stacklevel=2)
  order = list(seen)
  if len(order) < MIN_ROWS:
    raise MeasurementError(f"{path}: {len(order)} distinct architecture(s); adaptation needs at "
                           f"least {MIN_ROWS} (20 recommended)")
  by_arch = {}
  for idx, value in values:
    by_arch.setdefault(idx, []).append(value)
  latency_ms = np.array([np.mean(by_arch[i]) for i in order], np.float64)
  if np.median(latency_ms) < SECONDS_SUSPECT_MS:
    warnings.warn(f"{path}: median latency {np.median(latency_ms):.3g} ms; {LATENCY_COLUMN} is "
                  "in milliseconds: were these measured in seconds? (multiply by 1000)",
                  stacklevel=2)
  return Measurements(np.array(order, np.int64), latency_ms, rows)


def arch_label(space: SearchSpace, idx: int) -> str:
  """The `arch` column's text for an architecture index (its canonical name)."""
  return space.arch_names[idx]


def write_suggestions(path, space: SearchSpace, arch_idx: Sequence[int]) -> None:
  """to_measure.csv: one architecture per row (FBNet adds its op names, `ops`)."""
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow([ARCH_COLUMN] + (["ops"] if space.name == "fbnet" else []))
    for i in arch_idx:
      name = arch_label(space, int(i))
      extra = [" ".join(fbnet.OPS[j] for j in fbnet.parse(name))] if space.name == "fbnet" else []
      w.writerow([name] + extra)


def write_measurements(path, space: SearchSpace, arch_idx: Sequence[int],
                       latency_ms: Sequence[float]) -> None:
  """my_device.csv: `arch,latency_ms` rows (milliseconds), as `read_measurements` reads them."""
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow([ARCH_COLUMN, LATENCY_COLUMN])
    for i, value in zip(arch_idx, latency_ms, strict=True):
      w.writerow([arch_label(space, int(i)), f"{float(value):.6g}"])


def write_predictions(path, space: SearchSpace, predicted_ms: np.ndarray) -> None:
  """predictions.csv: every architecture, its predicted latency (ms) and rank (1 = fastest)."""
  predicted_ms = np.asarray(predicted_ms, np.float64)
  if predicted_ms.shape != (space.num_archs,):
    raise ValueError(f"need one prediction per architecture ({space.num_archs}), got "
                     f"{predicted_ms.shape}")
  rank = np.empty(space.num_archs, np.int64)
  rank[np.argsort(predicted_ms, kind="stable")] = np.arange(1, space.num_archs + 1)
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow([ARCH_COLUMN, "predicted_latency_ms", "rank"])
    for i in range(space.num_archs):
      w.writerow([space.arch_names[i], f"{predicted_ms[i]:.6g}", int(rank[i])])


def _named_rows(path, canonical, columns: Sequence[str]) -> list[tuple[str, dict]]:
  """(canonical name, row) of every row of a CSV with an arch column and `columns`; every
  problem (malformed or repeated architectures, missing columns, no rows) is reported at once."""
  header, reader = _rows(path)
  missing = [c for c in (ARCH_COLUMN, *columns) if c not in header]
  if missing:
    raise MeasurementError(f"{path}: the header needs column(s) {', '.join(missing)}; found "
                           f"{header or 'no header'}")
  named, problems, first_row = [], [], {}
  for row_no, row in enumerate(reader, start=2):
    try:
      name = canonical((row.get(ARCH_COLUMN) or "").strip())
    except ValueError as e:
      problems.append(f"row {row_no}: {e}")
      continue
    if name in first_row:
      problems.append(f"row {row_no}: the same architecture as row {first_row[name]}")
      continue
    first_row[name] = row_no
    if LATENCY_COLUMN in columns:
      value, why = _parse_latency(row.get(LATENCY_COLUMN))
      if why:
        problems.append(f"row {row_no}: {why}")
        continue
      row = {**row, LATENCY_COLUMN: value}
    named.append((name, row))
  if problems:
    raise MeasurementError(f"{path}: {len(problems)} problem(s):\n  " + _listed(problems))
  if not named:
    raise MeasurementError(f"{path}: no architectures")
  return named


def read_archs(path, canonical) -> list[str]:
  """The `arch` column of a CSV (suggest.py's to_measure.csv), as canonical names.

  Args:
    canonical: arch text -> canonical name, raising ValueError on a malformed one (for example
      `latpred.spaces.canonical` bound to a space).
  Raises:
    MeasurementError: a missing file or column, malformed or repeated architectures (every
      problem with its row number), or no rows.
  """
  return [name for name, _ in _named_rows(path, canonical, ())]


def read_latencies(path, canonical) -> dict[str, float]:
  """Canonical arch -> latency_ms of an `arch,latency_ms` CSV, without a search space's data
  (`read_archs`' checks, plus `read_measurements`' latency checks)."""
  return {name: row[LATENCY_COLUMN]
          for name, row in _named_rows(path, canonical, (LATENCY_COLUMN,))}
