import io
import os
import pickle
import zipfile

import pytest

from latpred.data import UnsafePickleError, load_pt


class _Exploit:
  """Pickles to a call of os.system that would create a marker file."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def _write_zip(path, payload: bytes):
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("archive/data.pkl", payload)
    z.writestr("archive/version", "3\n")


def test_reads_real_help_file(data_dir):
  latency = load_pt(data_dir / "help/nasbench201/latency/pixel2.pt")
  assert isinstance(latency, list) and len(latency) == 15625
  mapping = load_pt(data_dir / "help/nasbench201/str_arch2idx.pt")
  assert isinstance(mapping, dict) and len(mapping) == 15625


@pytest.mark.parametrize("container", ["zip", "bare"])
def test_global_is_refused_and_nothing_runs(tmp_path, container):
  marker = tmp_path / "pwned"
  payload = pickle.dumps([1.0, _Exploit(marker)], protocol=2)
  path = tmp_path / "evil.pt"
  if container == "zip":
    _write_zip(path, payload)
  else:
    path.write_bytes(payload)
  with pytest.raises(UnsafePickleError) as err:
    load_pt(path)
  assert str(path) in str(err.value) and "system" in str(err.value)
  assert not marker.exists()


def test_persistent_id_is_refused(tmp_path):
  class _P(pickle.Pickler):
    def persistent_id(self, obj):
      return ("storage", 1) if isinstance(obj, bytes) else None

  buf = io.BytesIO()
  _P(buf, protocol=2).dump([b"tensor-bytes"])
  path = tmp_path / "tensor.pt"
  _write_zip(path, buf.getvalue())
  with pytest.raises(UnsafePickleError, match="persistent"):
    load_pt(path)


def test_garbage_file_says_which(tmp_path):
  path = tmp_path / "garbage.pt"
  path.write_bytes(b"not a pickle at all")
  with pytest.raises(ValueError, match="garbage.pt"):
    load_pt(path)
