"""Load a pretrained predictor, adapt it to a device, and predict latency for architectures.

  from latpred.predict import LatencyPredictor
  p = LatencyPredictor.load("/tmp/fd/pretrained")            # a run_task.py checkpoint
  p = p.adapt("fpga", archs=measured_archs, latency_ms=measured_ms)
  p.predict_ms(["7_8_1_...", [0] * 22], "fpga")               # np.ndarray of ms

Scores (`predict_scores`) rank architectures on any device of the space; milliseconds need an
adaptation, which fits latency_ms ~= a * score + b on the measured samples.
"""

import dataclasses
import pathlib
from typing import Optional, Sequence

import ml_collections
import numpy as np

from latpred import checkpoints, encodings, runner, transfer
from latpred.data import load_latency_table
from latpred.spaces import SearchSpace, load_space
from latpred.train import loop


@dataclasses.dataclass
class LatencyPredictor:
  space: SearchSpace
  config: ml_collections.ConfigDict
  hw_names: tuple
  params: dict
  supp_AxD: np.ndarray
  train_hw: tuple = ()
  scale_ms: dict = dataclasses.field(default_factory=dict)  # hw name -> (a, b)

  @classmethod
  def load(cls, directory, step: Optional[int] = None, data_dir=None) -> "LatencyPredictor":
    """Loads an orbax checkpoint written by `latpred.runner` (default: the lowest step)."""
    directory = pathlib.Path(directory).resolve()
    steps = checkpoints.steps(directory)
    if not steps:
      raise FileNotFoundError(f"no latpred checkpoint in {directory}")
    step = min(steps) if step is None else step
    meta = checkpoints.restore_meta(directory, step)
    if meta.get("encoding_version") != encodings.VERSION:
      raise ValueError(f"{directory}: checkpoint encoding version {meta.get('encoding_version')}"
                       f" differs from this latpred's {encodings.VERSION}; retrain it")
    config = ml_collections.ConfigDict(meta["config"])
    space = load_space(meta["space"], data_dir, meta["graph_variant"])
    supp = encodings.encoding(space, meta["encoding"], data_dir)
    model = runner.build_model(config, space, len(meta["hw_names"]))
    like = runner.init_params(model, space, supp, 0)
    params, _ = checkpoints.restore(directory, step, like)
    train_hw = tuple(meta.get("pretrain_signature", {}).get("train_hw", ()))
    return cls(space, config, tuple(meta["hw_names"]), params, supp, train_hw)

  @property
  def model(self):
    return runner.build_model(self.config, self.space, len(self.hw_names))

  def hw_id(self, hw: str) -> int:
    if hw not in self.hw_names:
      raise KeyError(f"unknown {self.space.name} device {hw!r}; valid: {', '.join(self.hw_names)}")
    return self.hw_names.index(hw)

  def predict_scores(self, archs: Sequence, hw: str) -> np.ndarray:
    """Relative scores (higher = slower) of architectures (strings or op lists) on `hw`."""
    idx = self.space.indices_of(archs)
    return loop.predict(self.model, self.params, self.space.graph_set, self.supp_AxD,
                        self.hw_id(hw), idx)

  def predict_ms(self, archs: Sequence, hw: str) -> np.ndarray:
    """Predicted latency in milliseconds; `hw` must have been adapted with measurements."""
    if hw not in self.scale_ms:
      raise ValueError(f"device {hw!r} has no millisecond scale: adapt() it with measured "
                       "latencies first")
    a, b = self.scale_ms[hw]
    return a * self.predict_scores(archs, hw) + b

  def adapt(self, hw: str, archs: Sequence, latency_ms: Sequence[float],
            seed: int = 0) -> "LatencyPredictor":
    """A new predictor fine-tuned on measured (arch, latency ms) of device `hw` (§5)."""
    c = self.config
    idx = self.space.indices_of(archs)
    latency_ms = np.asarray(latency_ms, np.float64)
    if len(idx) != len(latency_ms) or len(idx) < 3:
      raise ValueError("adapt() needs at least 3 architectures with one latency each")
    if not np.all(np.isfinite(latency_ms)) or np.any(latency_ms <= 0):
      raise ValueError("measured latencies must be finite and positive (milliseconds)")
    table = load_latency_table(self.space.name)
    train = self.train_hw or tuple(h for h in self.hw_names if h != hw)
    train_ids = np.array([self.hw_id(h) for h in train])
    adapted = transfer.adapt(
        self.model, self.params, self.space.graph_set, self.supp_AxD, self.hw_id(hw), idx,
        latency_ms, train_ids, table.latency_ms_HxA[[table.hw_index(h) for h in train]],
        epochs=c.transfer_epochs, batch_size=c.transfer_batch, lr=c.transfer_lr,
        weight_decay=c.weight_decay, final_lr=c.final_lr,
        freeze=[g for g in c.freeze.split(",") if g], seed=seed)
    return dataclasses.replace(self, params=adapted.params,
                               scale_ms={**self.scale_ms, hw: adapted.scale_ms})
