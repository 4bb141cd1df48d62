"""Launcher start-up (latpred.protocol.launch)."""

import pathlib
import platform
import subprocess
import sys

import pytest

from latpred.protocol import launch


def test_malloc_arenas_are_capped_on_glibc_unless_the_environment_says(monkeypatch):
  monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
  assert launch.limit_malloc_arenas() is False  # the user's own setting stands
  monkeypatch.delenv("MALLOC_ARENA_MAX")
  if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
    pytest.skip("glibc only")
  assert launch.limit_malloc_arenas() is True


def test_the_compilation_cache_folder_follows_the_environment():
  where = launch.compilation_cache_dir
  assert where({"HOME": "/h", "XDG_CACHE_HOME": "/c"}) == "/c/latpred/jax"
  assert where({"LATPRED_COMPILATION_CACHE": "/mine", "JAX_COMPILATION_CACHE_DIR": "/j"}) == "/mine"
  for off in ("", "off", "OFF"):
    assert where({"LATPRED_COMPILATION_CACHE": off}) is None
  assert where({"JAX_COMPILATION_CACHE_DIR": "/j"}) is None  # JAX uses the user's own folder
  assert launch.enable_compilation_cache("off") is None  # nothing set: it stays off


def test_a_new_process_loads_the_programs_an_earlier_one_compiled(tmp_path):
  """Two processes run the same jitted function with the cache on: the first compiles and
  writes it, the second reads it back (JAX's compile log)."""
  script = ("import jax, jax.numpy as jnp\n"
            "from latpred.protocol import launch\n"
            f"assert launch.enable_compilation_cache({str(tmp_path)!r}) == {str(tmp_path)!r}\n"
            "jax.config.update('jax_log_compiles', True)\n"
            "jax.config.update('jax_explain_cache_misses', True)\n"
            "print(jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((3, 3))).sum())\n")
  runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=launch_root()) for _ in range(2)]
  assert any(tmp_path.iterdir())
  assert "Writing jit__lambda to persistent compilation cache" in runs[0].stderr, runs[0].stderr
  assert "Persistent compilation cache hit for 'jit__lambda'" in runs[1].stderr, runs[1].stderr
  assert runs[0].stdout == runs[1].stdout


def launch_root() -> str:
  return str(pathlib.Path(launch.__file__).resolve().parents[2])
