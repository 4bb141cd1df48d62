"""LatencyPredictor: load a pretrained checkpoint, adapt to a device, predict milliseconds; the
import of latpred.predict stays below protocol/ and apps/."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from latpred.data import load_latency_table
from latpred.predict import LatencyPredictor


def test_importing_predict_loads_no_protocol_or_apps_module():
  code = ("import sys, latpred.predict; print(sorted(m for m in sys.modules if "
          "m.startswith(('latpred.protocol', 'latpred.apps', 'latpred.baselines'))))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]"


def test_load_adapt_predict_ms(smoke_pretrained, data_dir):
  predictor = LatencyPredictor.load(smoke_pretrained, data_dir=data_dir)
  assert predictor.train_hw == ("pixel3", "gold_6226", "1080ti_32")
  table = load_latency_table("nb201", data_dir)
  archs = [predictor.space.arch_names[i] for i in range(0, 15625, 1000)]
  truth = table.latency_ms("fpga")[::1000]
  with pytest.raises(ValueError, match="adapt"):
    predictor.predict_ms(archs, "fpga")
  adapted = predictor.adapt("fpga", archs, truth)
  ms = adapted.predict_ms(archs, "fpga")
  assert ms.shape == (len(archs),) and np.all(np.isfinite(ms))
  assert abs(np.mean(ms) - np.mean(truth)) < 0.5 * np.mean(truth)
  with pytest.raises(KeyError, match="valid"):
    adapted.predict_scores(archs, "tpu")
  with pytest.raises(ValueError, match="positive"):
    predictor.adapt("fpga", archs[:3], [1.0, -2.0, 3.0])
  with pytest.raises(ValueError, match="training device"):
    predictor.adapt("pixel3", archs, truth)
  assert adapted.adapted["fpga"].stack is not None and len(adapted.members) == 2


def test_physics_columns_and_relative_loss_adapt_save_and_load(smoke_pretrained, data_dir,
                                                              tmp_path):
  predictor = LatencyPredictor.load(smoke_pretrained, data_dir=data_dir)
  assert predictor.stack_physics == ("kernels", "activations")  # the default config's
  config = predictor.config.copy_and_resolve_references()
  config.transfer.stack_physics, config.transfer.stack_loss = "", "absolute"
  assert dataclasses.replace(predictor, config=config).stack_columns()[-1] == "compute_ops"
  config.transfer.stack_physics, config.transfer.stack_loss = "kernels+activations", "relative"
  predictor = dataclasses.replace(predictor, config=config)
  table = load_latency_table("nb201", data_dir)
  archs = [predictor.space.arch_names[i] for i in range(0, 15625, 1000)]
  adapted = predictor.adapt("fpga", archs, table.latency_ms("fpga")[::1000])
  columns = adapted.stack_columns()
  assert columns[-2:] == ["kernels", "activations"]
  assert len(adapted.adapted["fpga"].stack.weights) == len(columns)
  adapted.save_adapted(tmp_path / "fpga", "fpga")
  loaded = LatencyPredictor.load(tmp_path / "fpga", data_dir=data_dir)
  assert loaded.stack_physics == ("kernels", "activations")
  assert loaded.adapted["fpga"].stack.loss == "relative"
  np.testing.assert_allclose(loaded.predict_ms(archs, "fpga"), adapted.predict_ms(archs, "fpga"),
                             rtol=1e-5)
