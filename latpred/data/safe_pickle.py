"""Reads HELP-format `.pt` files without PyTorch and without executing code.

A `.pt` file written by `torch.save` is a zip archive whose `*/data.pkl` member is a pickle
(older files are a bare pickle). The files we read hold only lists, dicts, ints, floats and
strings, so the unpickler below permits *no* globals and no persistent ids: a pickle that asks
for any importable object (the only way a pickle can run code) is refused before anything runs.
"""

import io
import os
import pickle
import zipfile
from typing import Any


class UnsafePickleError(ValueError):
  """A pickle asked for a global or a persistent object; nothing was executed."""


class _NoGlobalsUnpickler(pickle.Unpickler):
  """Unpickler that refuses every global lookup and persistent id."""

  def __init__(self, data: bytes, source: str):
    super().__init__(io.BytesIO(data))
    self._source = source

  def find_class(self, module: str, name: str):
    raise UnsafePickleError(
        f"{self._source}: the pickle asks for the global {module}.{name}; latpred reads only "
        "plain lists/dicts/numbers/strings and refused the file (nothing was executed). "
        "Re-download it from its public source or check where it came from.")

  def persistent_load(self, pid):
    raise UnsafePickleError(
        f"{self._source}: the pickle holds a persistent object ({pid!r}, e.g. a torch tensor); "
        "latpred reads only plain lists/dicts/numbers/strings and refused the file.")


def _pickle_bytes(path: str) -> bytes:
  if zipfile.is_zipfile(path):
    with zipfile.ZipFile(path) as archive:
      members = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
      if len(members) != 1:
        raise ValueError(f"{path}: expected one data.pkl in the zip archive, found {members}")
      return archive.read(members[0])
  with open(path, "rb") as f:
    return f.read()


def load_pt(path: "str | os.PathLike[str]") -> Any:
  """Returns the plain Python object stored in a HELP `.pt` file.

  Raises:
    UnsafePickleError: the pickle asks for any global or persistent object.
    ValueError: the file is neither a readable zip archive nor a pickle.
  """
  path = os.fspath(path)
  data = _pickle_bytes(path)
  try:
    return _NoGlobalsUnpickler(data, path).load()
  except UnsafePickleError:
    raise
  except Exception as e:  # pickle raises many types on malformed input
    raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
