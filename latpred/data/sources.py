"""Where the measured data lives, and its checksummed download.

Files are named by their path relative to the data directory (as in `SHA256SUMS`, e.g.
`help/fbnet/latency/fpga.pt`). The data directory is, in order: an explicit argument, the
`LATPRED_DATA_DIR` environment variable, or a user cache directory. Missing files are fetched
from their public sources (the HELP and NASFLAT repositories, pinned to the commits whose
contents match `SHA256SUMS`), written under a temporary name and renamed only once their SHA-256
matches. A file already present is checked too: a corrupt or truncated file is never used.
"""

import functools
import hashlib
import importlib.resources
import os
import pathlib
import sys
import time
import urllib.error
import urllib.request
from typing import Iterable, Mapping, Optional

ENV_DATA_DIR = "LATPRED_DATA_DIR"

# Path prefix in the data directory -> URL prefix that serves the same files.
_HELP = "https://raw.githubusercontent.com/HayeonLee/HELP/11970ec72b43a2500a2eb00a8436bd05eb14e776/"
DEFAULT_SOURCES: Mapping[str, str] = {
    "help/": _HELP + "data/",
    "help/LICENSE": _HELP + "LICENSE",
    "nasflat/zc_fbnet.json": ("https://raw.githubusercontent.com/abdelfattah-lab/nasflat_latency/"
                              "fa04c49e2e5cefb07fcadc6b53f20b141284b135/fbnet_zcp/zc_fbnet.json"),
}

_CHUNK = 1 << 16


class DataUnavailableError(FileNotFoundError):
  """A data file is missing and could not be downloaded."""


class ChecksumError(ValueError):
  """A data file's SHA-256 does not match the manifest."""


@functools.lru_cache(maxsize=1)
def manifest() -> Mapping[str, str]:
  """Relative path -> expected SHA-256 hex digest, from the packaged `SHA256SUMS`."""
  text = importlib.resources.files("latpred.data").joinpath("SHA256SUMS").read_text()
  out = {}
  for line in text.splitlines():
    if line.strip():
      digest, name = line.split(maxsplit=1)
      out[name.strip().removeprefix("./")] = digest
  return out


def default_cache_dir() -> pathlib.Path:
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return pathlib.Path(base) / "latpred" / "data"


def resolve_data_dir(data_dir: "Optional[str | os.PathLike[str]]" = None) -> pathlib.Path:
  """The data directory: `data_dir` if given, else `$LATPRED_DATA_DIR`, else the user cache."""
  if data_dir:
    return pathlib.Path(data_dir).expanduser().resolve()
  if os.environ.get(ENV_DATA_DIR):
    return pathlib.Path(os.environ[ENV_DATA_DIR]).expanduser().resolve()
  return default_cache_dir()


def sha256_of(path: "str | os.PathLike[str]") -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(_CHUNK), b""):
      h.update(chunk)
  return h.hexdigest()


def source_url(relpath: str, sources: Mapping[str, str] = DEFAULT_SOURCES) -> str:
  """The URL that serves `relpath`, from the longest matching prefix in `sources`."""
  matches = [p for p in sources if relpath == p or (p.endswith("/") and relpath.startswith(p))]
  if not matches:
    raise KeyError(f"no public source known for {relpath!r}")
  prefix = max(matches, key=len)
  return sources[prefix] + relpath[len(prefix):]


def _expected_digest(relpath: str) -> str:
  try:
    return manifest()[relpath]
  except KeyError:
    raise KeyError(f"{relpath!r} is not in latpred's data manifest; known files: "
                   f"{sorted(manifest())}") from None


class _Progress:
  """A one-line download progress display on stderr (quiet when `enabled` is False)."""

  def __init__(self, label: str, total: Optional[int], enabled: bool):
    self.label, self.total, self.enabled = label, total, enabled
    self.done, self._last = 0, 0.0

  def update(self, n: int):
    self.done += n
    now = time.monotonic()
    if self.enabled and (now - self._last > 0.2 or (self.total and self.done >= self.total)):
      self._last = now
      size = f"{self.done / 1e6:.2f}" + (f"/{self.total / 1e6:.2f}" if self.total else "")
      sys.stderr.write(f"\rdownloading {self.label}: {size} MB")
      sys.stderr.flush()

  def close(self):
    if self.enabled:
      sys.stderr.write("\n")


def download_file(url: str, dest: pathlib.Path, sha256: str, *, progress: bool = True,
                  timeout_s: float = 60.0) -> None:
  """Fetches `url` to `dest` atomically: a temporary name, renamed only if the digest matches.

  Raises:
    ChecksumError: the downloaded bytes do not match `sha256` (nothing is left at `dest`).
    urllib.error.URLError / OSError: the download failed (nothing is left at `dest`).
  """
  dest.parent.mkdir(parents=True, exist_ok=True)
  tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
  h = hashlib.sha256()
  try:
    with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
      length = response.headers.get("Content-Length")
      bar = _Progress(dest.name, int(length) if length else None, progress)
      for chunk in iter(lambda: response.read(_CHUNK), b""):
        out.write(chunk)
        h.update(chunk)
        bar.update(len(chunk))
      bar.close()
    if h.hexdigest() != sha256:
      raise ChecksumError(f"download of {url} has SHA-256 {h.hexdigest()}, expected {sha256}: "
                          "corrupt or truncated, not saved")
    os.replace(tmp, dest)
  finally:
    if tmp.exists():
      tmp.unlink()


def ensure_files(relpaths: Iterable[str], data_dir=None, *, download: bool = True,
                 sources: Mapping[str, str] = DEFAULT_SOURCES,
                 progress: bool = True) -> pathlib.Path:
  """Makes sure every file in `relpaths` is present and intact; returns the data directory.

  Present files are verified against the manifest; missing ones are downloaded (if `download`).

  Raises:
    ChecksumError: a present file is corrupt or truncated, or a download did not verify.
    DataUnavailableError: a file is missing and cannot be downloaded.
  """
  root = resolve_data_dir(data_dir)
  for relpath in relpaths:
    digest = _expected_digest(relpath)
    path = root / relpath
    if path.exists():
      actual = sha256_of(path)
      if actual != digest:
        raise ChecksumError(
            f"{path} has SHA-256 {actual}, expected {digest}: the file is corrupt or truncated. "
            "Delete it to have latpred download it again.")
      continue
    if not download:
      raise DataUnavailableError(f"{path} is missing and downloading is off")
    url = source_url(relpath, sources)
    try:
      download_file(url, path, digest, progress=progress)
    except (urllib.error.URLError, OSError) as e:
      raise DataUnavailableError(
          f"{relpath} is not in {root} and could not be downloaded from {url} ({e}). "
          f"If you have the data (the HELP and NASFLAT files laid out as help/... and "
          f"nasflat/...), point {ENV_DATA_DIR} at that directory, or pass data_dir.") from e
  return root
