"""Launcher start-up (latpred.protocol.launch)."""

import platform

import pytest

from latpred.protocol import launch


def test_malloc_arenas_are_capped_on_glibc_unless_the_environment_says(monkeypatch):
  monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
  assert launch.limit_malloc_arenas() is False  # the user's own setting stands
  monkeypatch.delenv("MALLOC_ARENA_MAX")
  if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
    pytest.skip("glibc only")
  assert launch.limit_malloc_arenas() is True
