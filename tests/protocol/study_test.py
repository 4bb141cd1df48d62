"""The design study: every sweep point is a valid config; a small study runs end to end."""

import types

import pytest

from configs import nasflat
from configs import study as study_configs
from latpred.protocol import config as config_lib
from latpred.protocol import study, tasks


@pytest.mark.parametrize("name", list(study_configs.STUDIES))
def test_every_point_of_every_study_is_a_valid_config(name):
  pts = study.points(study_configs.sweep, name, study_configs.TASKS)
  assert len(pts) >= 2 and len({p[0] for p in pts}) == len(pts)  # distinct labels
  for label, overrides, point_tasks in pts:
    for task in point_tasks:
      assert task in tasks.TUNING_TASKS  # never a reported task
      cfg = study.point_config(nasflat.get_config(), study_configs.BASE, overrides, task)
      config_lib.validate(cfg)


def test_unknown_study_and_override_are_refused():
  with pytest.raises(ValueError, match="unknown study"):
    study_configs.sweep(lambda *a, **k: None, "colour")
  with pytest.raises(ValueError, match="not a config field"):
    study.point_config(nasflat.get_config(), {}, {"colour": 1}, "NT1")
  with pytest.raises(ValueError, match="not a config field"):
    study.point_config(nasflat.get_config(), {}, {"model.colour": 1}, "NT1")
  with pytest.raises(ValueError, match="moved to 'transfer.sampler'"):
    study.point_config(nasflat.get_config(), {}, {"sampler": "random"}, "NT1")


def test_small_study_writes_table_plot_and_shares_pretraining(data_dir, tmp_path):
  def sweep(add, name):
    add("random", {"transfer.sampler": "random"})
    add("flops", {"transfer.sampler": "flops"})
    add("64 archs", {"pretrain.samples": 64})

  module = types.SimpleNamespace(
      BASE={"num_trials": 1, "pretrain.ensemble_size": 1, "transfer.stack": False},
      TASKS=("NT1",), sweep=sweep)
  base = nasflat.get_config("smoke")
  base.data.data_dir = str(data_dir)
  rows = study.run(module, "mini", base, tmp_path, log=lambda *_: None)
  assert [r["label"] for r in rows] == ["random", "flops", "64 archs"]
  assert all(r["spearman_trials"] == [r["spearman_mean"]] for r in rows)  # one trial each
  md = (tmp_path / "mini" / "study.md").read_text()
  assert "| flops |" in md and "NT1" in md
  assert (tmp_path / "mini" / "study.png").exists()
  # The two sampler points share one pretrained checkpoint; 64 archs has its own.
  assert len(list((tmp_path / "pretrained" / "NT1").iterdir())) == 2
  task = tasks.get_task("NT1")
  again = study.run(module, "mini", base, tmp_path, log=lambda *_: None)  # read back
  assert [r["spearman_mean"] for r in again] == [r["spearman_mean"] for r in rows]
  assert study.pretrained_dir(tmp_path, study.point_config(base, module.BASE, {}, "NT1"),
                              task).exists()
