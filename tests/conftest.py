"""Shared fixtures: the real measured data (LATPRED_DATA_DIR, default ../shared/data)."""

import os
import pathlib

import pytest

_DEFAULT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
  path = pathlib.Path(os.environ.get("LATPRED_DATA_DIR") or _DEFAULT).resolve()
  if not (path / "help").is_dir():
    pytest.fail(f"measured data not found at {path}: set LATPRED_DATA_DIR to the directory "
                "that holds help/ and nasflat/")
  return path
