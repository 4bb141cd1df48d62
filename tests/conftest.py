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


SMOKE_TRAIN_HW = ("pixel3", "gold_6226", "1080ti_32")


@pytest.fixture(scope="session")
def smoke_pretrained(data_dir, tmp_path_factory) -> pathlib.Path:
  """A small NB201 checkpoint (configs/nasflat.py:smoke) pretrained on SMOKE_TRAIN_HW."""
  import sys
  sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
  from configs import nasflat
  from latpred import runner
  config = nasflat.get_config("smoke")
  config.data_dir, config.space, config.train_hw = str(data_dir), "nb201", ",".join(SMOKE_TRAIN_HW)
  path = tmp_path_factory.mktemp("smoke_pretrained")
  members = runner.pretrain(config, path)
  assert len(members) == config.ensemble_size
  return path
