"""The downloader against a real HTTP server on 127.0.0.1 serving a copy of the data."""

import functools
import http.server
import shutil
import threading

import pytest

from latpred.data import (
  ChecksumError,
  DataUnavailableError,
  ensure_files,
  resolve_data_dir,
  sources,
)

FILES = ["help/fbnet/latency/fpga.pt", "help/fbnet/hardware_embedding_index.pt",
         "nasflat/zc_fbnet.json"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):
    pass


@pytest.fixture()
def mirror(tmp_path, data_dir):
  """Serves the upstream layouts (HELP's data/..., NASFLAT's fbnet_zcp/...) on 127.0.0.1."""
  root = tmp_path / "upstream"
  for rel in FILES:
    if rel.startswith("help/"):
      dest = root / "help_repo/data" / rel[len("help/"):]
    else:
      dest = root / "nasflat_repo/fbnet_zcp/zc_fbnet.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_dir / rel, dest)
  server = http.server.ThreadingHTTPServer(
      ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  base = f"http://127.0.0.1:{server.server_address[1]}"
  yield root, {"help/": f"{base}/help_repo/data/",
               "nasflat/zc_fbnet.json": f"{base}/nasflat_repo/fbnet_zcp/zc_fbnet.json"}
  server.shutdown()
  server.server_close()


def test_manifest_matches_shared_checksums(data_dir):
  shared = {}
  for line in (data_dir / "SHA256SUMS").read_text().splitlines():
    digest, name = line.split(maxsplit=1)
    shared[name.removeprefix("./")] = digest
  assert sources.manifest() == shared


def test_download_verifies_and_places_files(tmp_path, mirror, data_dir):
  _, urls = mirror
  dest = tmp_path / "cache"
  root = ensure_files(FILES, dest, sources=urls, progress=False)
  assert root == dest.resolve()
  for rel in FILES:
    assert (dest / rel).read_bytes() == (data_dir / rel).read_bytes()
  assert not list(dest.rglob(".*part-*"))
  # A second call finds them present and verified, with no server needed.
  ensure_files(FILES, dest, sources={}, progress=False)


def test_corrupt_download_is_never_accepted(tmp_path, mirror):
  root, urls = mirror
  served = root / "help_repo/data/fbnet/latency/fpga.pt"
  served.write_bytes(served.read_bytes()[:-100])  # truncated on the server
  dest = tmp_path / "cache"
  with pytest.raises(ChecksumError, match="corrupt or truncated"):
    ensure_files(["help/fbnet/latency/fpga.pt"], dest, sources=urls, progress=False)
  assert not (dest / "help/fbnet/latency/fpga.pt").exists()
  assert not list(dest.rglob(".*part-*"))


def test_corrupt_local_file_is_refused(tmp_path, data_dir):
  rel = "help/fbnet/latency/fpga.pt"
  (tmp_path / rel).parent.mkdir(parents=True)
  (tmp_path / rel).write_bytes((data_dir / rel).read_bytes()[:1000])
  with pytest.raises(ChecksumError, match="Delete it"):
    ensure_files([rel], tmp_path, sources={}, progress=False)


def test_offline_error_names_the_env_var(tmp_path):
  import socket
  with socket.socket() as s:  # a port with nothing listening
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  urls = {"help/": f"http://127.0.0.1:{port}/data/"}
  with pytest.raises(DataUnavailableError, match="LATPRED_DATA_DIR") as err:
    ensure_files(["help/fbnet/latency/fpga.pt"], tmp_path, sources=urls, progress=False)
  assert str(tmp_path.resolve()) in str(err.value)


def test_unknown_file_is_an_error(tmp_path):
  with pytest.raises(KeyError, match="manifest"):
    ensure_files(["help/fbnet/latency/nonexistent.pt"], tmp_path, sources={}, progress=False)


def test_data_dir_resolution_order(tmp_path, monkeypatch):
  monkeypatch.setenv("LATPRED_DATA_DIR", str(tmp_path / "env"))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
  assert resolve_data_dir(tmp_path / "explicit") == (tmp_path / "explicit").resolve()
  assert resolve_data_dir() == (tmp_path / "env").resolve()
  monkeypatch.delenv("LATPRED_DATA_DIR")
  assert resolve_data_dir() == tmp_path / "xdg" / "latpred" / "data"


def test_default_sources_cover_every_file():
  for rel in sources.manifest():
    assert sources.source_url(rel).startswith("https://")
  assert sources.source_url("nasflat/zc_fbnet.json").endswith("fbnet_zcp/zc_fbnet.json")
  assert sources.source_url("help/fbnet/arch.pt").endswith("/data/fbnet/arch.pt")
  assert sources.source_url("help/LICENSE").endswith("/LICENSE")
  assert "/data/" not in sources.source_url("help/LICENSE")
