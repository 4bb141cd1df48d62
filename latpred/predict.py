"""Load a pretrained predictor, adapt it to a device, and predict latency for architectures.

  from latpred.predict import LatencyPredictor
  p = LatencyPredictor.load("/tmp/fd/pretrained")            # a run_task.py checkpoint
  p = p.adapt("fpga", archs=measured_archs, latency_ms=measured_ms)
  p.predict_ms(["7_8_1_...", [0] * 22], "fpga")               # np.ndarray of ms

`load` takes every ensemble member of one trial. Scores (`predict_scores`) rank architectures on
any device of the space; milliseconds need an adaptation, done exactly as the runner does it
(`latpred.transfer.adapt_ensemble`: per-member fine-tune and ms scale, and the stack of
`latpred.stacking` when the checkpoint's config enables it).
"""

import dataclasses
import pathlib
from typing import Optional, Sequence

import ml_collections
import numpy as np

from latpred import checkpoints, encodings, runner, stacking, transfer
from latpred.data import load_latency_table
from latpred.spaces import SearchSpace, load_space
from latpred.train import loop


@dataclasses.dataclass
class LatencyPredictor:
  space: SearchSpace
  config: ml_collections.ConfigDict
  hw_names: tuple
  members: list  # pretrained parameters, one per ensemble member
  supp_AxD: np.ndarray
  train_hw: tuple = ()
  data_dir: Optional[str] = None
  adapted: dict = dataclasses.field(default_factory=dict)  # hw name -> AdaptedEnsemble

  @classmethod
  def load(cls, directory, trial: int = 0, data_dir=None) -> "LatencyPredictor":
    """Loads every ensemble member of `trial` from an orbax checkpoint written by
    `latpred.runner`."""
    directory = pathlib.Path(directory).resolve()
    first = trial * runner.MAX_MEMBERS
    steps = [s for s in checkpoints.steps(directory) if first <= s < first + runner.MAX_MEMBERS]
    if not steps:
      raise FileNotFoundError(f"no latpred checkpoint of trial {trial} in {directory}")
    meta = checkpoints.restore_meta(directory, steps[0])
    if meta.get("encoding_version") != encodings.VERSION:
      raise ValueError(f"{directory}: checkpoint encoding version {meta.get('encoding_version')}"
                       f" differs from this latpred's {encodings.VERSION}; retrain it")
    config = ml_collections.ConfigDict(meta["config"])
    space = load_space(meta["space"], data_dir, meta["graph_variant"])
    supp = encodings.encoding(space, meta["encoding"], data_dir)
    model = runner.build_model(config, space, len(meta["hw_names"]))
    like = runner.init_params(model, space, supp, 0)
    members = [checkpoints.restore(directory, step, like)[0] for step in steps]
    train_hw = tuple(meta.get("pretrain_signature", {}).get("train_hw", ()))
    return cls(space, config, tuple(meta["hw_names"]), members, supp, train_hw,
               None if data_dir is None else str(data_dir))

  @property
  def model(self):
    return runner.build_model(self.config, self.space, len(self.hw_names))

  def hw_id(self, hw: str) -> int:
    if hw not in self.hw_names:
      raise KeyError(f"unknown {self.space.name} device {hw!r}; valid: {', '.join(self.hw_names)}")
    return self.hw_names.index(hw)

  def predict_scores(self, archs: Sequence, hw: str) -> np.ndarray:
    """Relative scores (higher = slower) of architectures (strings or op lists) on `hw`: the
    pretrained members' mean, or, for an adapted device, its prediction in ms."""
    if hw in self.adapted:
      return self.predict_ms(archs, hw)
    idx = self.space.indices_of(archs)
    hw_id = self.hw_id(hw)
    return np.mean([loop.predict(self.model, params, self.space.graph_set, self.supp_AxD, hw_id,
                                 idx) for params in self.members], axis=0)

  def predict_ms(self, archs: Sequence, hw: str) -> np.ndarray:
    """Predicted latency in milliseconds; `hw` must have been adapted with measurements."""
    if hw not in self.adapted:
      raise ValueError(f"device {hw!r} has no millisecond scale: adapt() it with measured "
                       "latencies first")
    idx = self.space.indices_of(archs)
    basis = self._stack_basis(hw) if self.adapted[hw].stack is not None else None
    return self.adapted[hw].predict_ms(self.model, self.space.graph_set, self.supp_AxD, idx,
                                       basis)

  def _train_hw(self, hw: str) -> tuple:
    return self.train_hw or tuple(h for h in self.hw_names if h != hw)

  def _stack_basis(self, hw: str) -> np.ndarray:
    table = load_latency_table(self.space.name, self.data_dir)
    return stacking.basis(self.space, table.latency_ms_HxA[table.hw_indices(self._train_hw(hw))])

  def adapt(self, hw: str, archs: Sequence, latency_ms: Sequence[float],
            seed: int = 0) -> "LatencyPredictor":
    """A new predictor adapted to measured (arch, latency ms) of device `hw` (§5)."""
    idx = self.space.indices_of(archs)
    latency_ms = np.asarray(latency_ms, np.float64)
    if len(idx) != len(latency_ms) or len(idx) < 3:
      raise ValueError("adapt() needs at least 3 architectures with one latency each")
    if not np.all(np.isfinite(latency_ms)) or np.any(latency_ms <= 0):
      raise ValueError("measured latencies must be finite and positive (milliseconds)")
    if hw in self.train_hw:
      raise ValueError(f"{hw!r} is a training device of this checkpoint; adapt a new device")
    table = load_latency_table(self.space.name, self.data_dir)
    train_ids = table.hw_indices(self._train_hw(hw))
    c = self.config
    use_stack = c.get("stack", False) and len(idx) >= c.stack_folds
    adapted = transfer.adapt_ensemble(
        self.model, self.members, self.space.graph_set, self.supp_AxD, self.hw_id(hw), idx,
        latency_ms, train_ids, table.latency_ms_HxA[train_ids],
        transfer.FineTune.from_config(c), seed=seed,
        stack_basis_AxK=self._stack_basis(hw) if use_stack else None,
        stack_folds=c.get("stack_folds", 5))
    return dataclasses.replace(self, adapted={**self.adapted, hw: adapted})
