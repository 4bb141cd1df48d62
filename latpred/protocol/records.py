"""Finished results on disk that a rerun may reuse only when their signature matches.

Every record (a JSON line) carries the signature of the config that produced it
(`latpred.protocol.config`). A rerun in the same workdir with a different signature refuses with
`StaleResultsError`, naming the differing fields, unless it was asked to overwrite: then the old
records are discarded and recomputed. Old numbers are never reported under a new config.
"""

import json
import pathlib

from latpred.protocol.config import signature_diff


class StaleResultsError(ValueError):
  """Stored results were produced by another configuration."""


def stale_error(where, old: dict, new: dict) -> StaleResultsError:
  fields = signature_diff(old, new)
  shown = ", ".join(f"{f} ({_at(old, f)!r} -> {_at(new, f)!r})" for f in fields[:8])
  more = f" and {len(fields) - 8} more" if len(fields) > 8 else ""
  return StaleResultsError(
      f"{where} holds results of another configuration; differing fields: {shown}{more}. "
      "Use a new --workdir, or rerun with --overwrite to discard the old results")


def _at(d, dotted: str):
  for part in dotted.split("."):
    if not isinstance(d, dict) or part not in d:
      return "<absent>"
    d = d[part]
  return d


class Records:
  """(trial, device) -> row, stored as JSON lines with the signature in every row."""

  def __init__(self, path, signature: dict, overwrite: bool = False, summaries=(),
               write: bool = True):
    """`summaries`: files written from these records (e.g. results.json), removed with them
    when they are discarded. `write=False` (a process other than the writer of a multi-process
    run) keeps added rows in memory only and never touches the files."""
    self.path, self.signature, self.write = pathlib.Path(path), signature, write
    self.summaries = [pathlib.Path(s) for s in summaries]
    self.rows = {}
    lines = self.path.read_text().splitlines() if self.path.exists() else []
    for line in filter(str.strip, lines):
      row = json.loads(line)
      if row.get("signature") != signature:
        if not overwrite:
          raise stale_error(self.path, row.get("signature") or {}, signature)
        self.discard()
        return
      self.rows[(row["trial"], row["device"])] = {k: v for k, v in row.items()
                                                  if k != "signature"}

  def discard(self) -> None:
    """Removes the records and their summaries, so that a run interrupted after this leaves
    no old numbers behind."""
    for path in [self.path, *self.summaries] if self.write else []:
      path.unlink(missing_ok=True)
    self.rows = {}

  def __contains__(self, key) -> bool:
    return key in self.rows

  def __getitem__(self, key) -> dict:
    return self.rows[key]

  def add(self, row: dict) -> None:
    """Keeps `row` (with 'trial' and 'device') and appends it to the file at once."""
    self.rows[(row["trial"], row["device"])] = row
    if not self.write:
      return
    self.path.parent.mkdir(parents=True, exist_ok=True)
    with open(self.path, "a") as f:
      f.write(json.dumps({**row, "signature": self.signature}) + "\n")

  def first_trials(self, num_trials: int) -> dict:
    """The rows of trials 0 .. num_trials - 1 (what a summary may count)."""
    return {k: v for k, v in self.rows.items() if k[0] < num_trials}
