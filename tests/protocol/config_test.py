"""Config sections: validation, moved flat names, signatures, records."""

import json

import pytest

from configs import nasflat
from latpred.protocol import config as config_lib
from latpred.protocol.records import Records, StaleResultsError


def test_config_validation_lists_valid_choices():
  for field, bad, valid in (("model.layer_type", "gcn", "dgf, gat, ensemble"),
                            ("transfer.sampler", "best", "random"),
                            ("eval.eval_set", "some", "paper_first128"),
                            ("model.supp_encoding", "zcp+nwot", "opcount")):
    config = nasflat.get_config()
    section, name = field.split(".")
    config[section][name] = bad
    with pytest.raises(ValueError, match=valid):
      config_lib.validate(config)
  config = nasflat.get_config()
  config.model.supp_encoding_nb201 = "zcp"
  with pytest.raises(ValueError, match="fbnet only"):
    config_lib.validate(config)
  config = nasflat.get_config()
  config.transfer.stack_folds = 30
  with pytest.raises(ValueError, match="stack_folds"):
    config_lib.validate(config)
  for field, bad in (("devices", 0), ("threads", 0)):
    config = nasflat.get_config()
    config.parallel[field] = bad
    with pytest.raises(ValueError, match=f"parallel.{field} must be"):
      config_lib.validate(config)


def test_flat_names_are_refused_with_their_new_place():
  with pytest.raises(SystemExit, match="'transfer.num_samples'"):
    config_lib.reject_moved_flags(["run_task.py", "--config.num_samples=5"])
  with pytest.raises(SystemExit, match="'pretrain.samples'"):
    config_lib.reject_moved_flags(["--config.pretrain_samples", "64"])
  config_lib.reject_moved_flags(["--config.transfer.num_samples=5", "--workdir=x"])
  config = nasflat.get_config()
  with config.unlocked():
    config.sampler = "random"
  with pytest.raises(ValueError, match="transfer.sampler"):
    config_lib.validate(config)
  # Every moved name points at a field that exists.
  config = nasflat.get_config()
  for new in config_lib.MOVED.values():
    config_lib.get(config, new.split(" ")[0])


def test_signatures_are_whole_sections_less_where_the_data_lives():
  a, b = nasflat.get_config(), nasflat.get_config()
  b.data.data_dir, b.num_trials = "/elsewhere", 7
  sig = lambda c: config_lib.pretrain_signature(c, "FD", "fbnet", ["pixel3"])
  assert sig(a) == sig(b)
  b.transfer.num_samples = 5
  assert sig(a) == sig(b)  # transfer does not define a pretrained checkpoint ...
  ra, rb = (config_lib.record_signature(c, sig(c)) for c in (a, b))
  assert config_lib.signature_diff(ra, rb) == ["transfer.num_samples"]  # ... but a record
  b.model.width = 64
  assert config_lib.signature_diff(sig(a), sig(b)) == ["model.width"]
  assert "baselines" not in ra and "baselines" in config_lib.record_signature(a, sig(a), "help")


def test_stack_fields_sign_only_the_methods_that_read_them():
  a, b = nasflat.get_config(), nasflat.get_config()
  b.transfer.stack_physics, b.transfer.stack_loss = "kernels", "relative"
  sig = config_lib.pretrain_signature(a, "FD", "fbnet", ["pixel3"])
  for method in ("nasflat", "stack_only"):
    ra, rb = (config_lib.record_signature(c, sig, method) for c in (a, b))
    assert config_lib.signature_diff(ra, rb) == ["transfer.stack_loss", "transfer.stack_physics"]
  for method in ("flops", "help", "supervised"):
    ra, rb = (config_lib.record_signature(c, sig, method) for c in (a, b))
    assert ra == rb and "stack_physics" not in ra["transfer"] and "stack" in ra["transfer"]
  b.transfer.stack_physics = "flops"
  with pytest.raises(ValueError, match="bad stack_physics"):
    config_lib.validate(b)
  b.transfer.stack_physics, b.transfer.stack_loss = "", "huber"
  with pytest.raises(ValueError, match="stack_loss"):
    config_lib.validate(b)


def test_records_refuse_another_signature_unless_overwritten(tmp_path):
  path = tmp_path / "trials.jsonl"
  rec = Records(path, {"transfer": {"num_samples": 10}})
  rec.add({"trial": 0, "device": "fpga", "spearman": 0.5})
  rec.add({"trial": 1, "device": "fpga", "spearman": 0.7})
  again = Records(path, {"transfer": {"num_samples": 10}})
  assert again[(1, "fpga")]["spearman"] == 0.7 and (0, "fpga") in again
  assert list(again.first_trials(1)) == [(0, "fpga")]
  with pytest.raises(StaleResultsError, match=r"transfer.num_samples \(10 -> 5\).*--overwrite"):
    Records(path, {"transfer": {"num_samples": 5}})
  (tmp_path / "results.json").write_text("{}")  # a summary of the old records
  fresh = Records(path, {"transfer": {"num_samples": 5}}, overwrite=True,
                  summaries=[tmp_path / "results.json"])
  assert not fresh.rows and not path.exists() and not (tmp_path / "results.json").exists()
  fresh.add({"trial": 0, "device": "fpga", "spearman": 0.1})
  assert json.loads(path.read_text())["signature"] == {"transfer": {"num_samples": 5}}


def test_a_new_field_at_its_old_behaviour_does_not_sign():
  """model.node_physics = False is how checkpoints were made before the field existed: left out
  of the signature then, so they stay valid; True signs."""
  a, b = nasflat.get_config(), nasflat.get_config()
  sig = lambda c: config_lib.pretrain_signature(c, "FD", "fbnet", ["pixel3"])
  assert a.model.node_physics is False and "node_physics" not in sig(a)["model"]
  b.model.node_physics = True
  assert config_lib.signature_diff(sig(a), sig(b)) == ["model.node_physics"]
  # likewise no synthetic devices (pretraining) and copying no synthetic row (a record)
  assert a.pretrain.synthetic_devices == 0 and "synthetic_devices" not in sig(a)["pretrain"]
  b = nasflat.get_config()
  b.pretrain.synthetic_devices, b.transfer.copy_synthetic = 4, True
  assert config_lib.signature_diff(sig(a), sig(b)) == ["pretrain.synthetic_devices"]
  rec = lambda c: config_lib.record_signature(c, sig(c))
  assert "copy_synthetic" not in rec(a)["transfer"]
  assert "transfer.copy_synthetic" in config_lib.signature_diff(rec(a), rec(b))
  # only nasflat copies rows: the baselines' records (stack_only's too) stay valid
  a.pretrain.synthetic_devices = 4
  for method in ("stack_only", "flops", "help"):
    ra, rb = (config_lib.record_signature(c, sig(c), method) for c in (a, b))
    assert ra == rb, method


def test_synthetic_device_fields_are_checked():
  config = nasflat.get_config()
  config.pretrain.synthetic_devices = -1
  with pytest.raises(ValueError, match="synthetic_devices must be >= 0"):
    config_lib.validate(config)
  config.pretrain.synthetic_devices, config.transfer.copy_synthetic = 0, True
  with pytest.raises(ValueError, match="copy_synthetic needs"):
    config_lib.validate(config)
