"""Load a pretrained predictor, adapt it to a device, and predict latency for architectures.

  from latpred.predict import LatencyPredictor
  p = LatencyPredictor.load("/tmp/fd/pretrained")   # a run_task.py / pretrain.py checkpoint
  p = p.adapt("my_phone", archs=measured_archs, latency_ms=measured_ms)
  p.predict_ms(["7_8_1_...", [0] * 22], "my_phone")           # np.ndarray of ms
  p.save_adapted("/tmp/my_phone_ckpt", "my_phone")            # LatencyPredictor.load() reads it

  fn, variables = p.predict_fn("my_phone")    # pure: fn(variables, ops_BxS) -> ms [B]
  ms = jax.jit(fn)(variables, p.space.op_ids(archs))          # composes with jit, vmap, grad

`load` takes every ensemble member of one trial. Scores (`predict_scores`) rank architectures on
any device of the space; milliseconds need an adaptation, done exactly as the runner does it
(`latpred.adapt.ensemble.adapt_ensemble`: per-member fine-tune and ms scale, and the stack of
`latpred.adapt.stacking` when the checkpoint's config enables it). Milliseconds come from one
path, the pure function of `predict_fn` (`latpred.adapt.pure`). This module imports nothing
from `latpred.protocol` or `latpred.apps`. The device to adapt may be a device
of the space that the checkpoint was not trained on, or any other name (a new device): then the
most similar training device's hardware row is fine-tuned in place.
"""

import dataclasses
import pathlib
from typing import Optional, Sequence

import jax
import ml_collections
import numpy as np

from latpred import metrics
from latpred.adapt import ensemble, pure, stacking, transfer
from latpred.data import load_latency_table
from latpred.model import build
from latpred.spaces import SearchSpace, encodings, load_space
from latpred.train import checkpoints, loop, mesh, synthetic


PREDICT_CHUNK = 1024  # architectures per jitted call of predict_ms


@dataclasses.dataclass
class LatencyPredictor:
  space: SearchSpace
  config: ml_collections.ConfigDict
  hw_names: tuple
  members: list  # pretrained parameters, one per ensemble member
  supp_AxD: np.ndarray
  train_hw: tuple
  meta: dict  # the checkpoint's metadata
  data_dir: Optional[str] = None
  adapted: dict = dataclasses.field(default_factory=dict)  # device name -> AdaptedEnsemble
  _fns: dict = dataclasses.field(default_factory=dict, repr=False)  # predict_fn's, per device

  @classmethod
  def load(cls, directory, trial: int = 0, data_dir=None) -> "LatencyPredictor":
    """Loads every ensemble member of `trial` from a checkpoint written by pretraining
    (run_task.py, pretrain.py) or by `save_adapted` (then the device comes back adapted)."""
    directory = pathlib.Path(directory).resolve()
    steps = checkpoints.trial_steps(directory, trial)
    if not steps:
      raise FileNotFoundError(f"no latpred checkpoint of trial {trial} in {directory}")
    meta = checkpoints.restore_meta(directory, steps[0])
    if meta.get("encoding_version") != encodings.VERSION:
      raise ValueError(f"{directory}: checkpoint encoding version {meta.get('encoding_version')}"
                       f" differs from this latpred's {encodings.VERSION}; retrain it")
    if "model" not in meta["config"]:
      raise ValueError(f"{directory}: checkpoint written before latpred's config sections; "
                       "pretrain it again (experiments/pretrain.py)")
    config = ml_collections.ConfigDict(meta["config"])
    space = load_space(meta["space"], data_dir, meta["graph_variant"])
    supp = encodings.encoding(space, meta["encoding"], data_dir)
    model = build.build_model(config.model, space, build.hw_rows(config, len(meta["hw_names"])))
    like = jax.eval_shape(lambda: build.init_params(model, space, supp, 0))  # no compile
    members = [checkpoints.restore(directory, step, like)[0] for step in steps]
    train_hw = tuple(meta["train_hw"])
    out = cls(space, config, tuple(meta["hw_names"]), members, supp, train_hw, meta,
              None if data_dir is None else str(data_dir))
    if "adapted" in meta:
      saved = (meta["adapted"].get("stack") or {}).get("columns")
      if saved is not None and list(saved) != out.stack_columns():
        raise ValueError(f"{directory}: the adapted stack's columns {saved} differ from this "
                         f"checkpoint's {out.stack_columns()}")
      out.adapted = {meta["adapted"]["device"]: _ensemble_from_meta(meta["adapted"], members,
                                                                    out.hw_names)}
    return out

  @property
  def model(self):
    return build.build_model(self.config.model, self.space,
                             build.hw_rows(self.config, len(self.hw_names)))

  def hw_id(self, hw: str) -> int:
    if hw not in self.hw_names:
      raise KeyError(f"unknown {self.space.name} device {hw!r}; valid: {', '.join(self.hw_names)}"
                     f"{'; adapted: ' + ', '.join(self.adapted) if self.adapted else ''}")
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
    return self.predict_ms_indices(self.space.indices_of(archs), hw)

  def predict_ms_indices(self, arch_idx, hw: str) -> np.ndarray:
    """`predict_ms` for architecture indices of the space (e.g. every architecture): the jitted
    `predict_fn` over chunks of at most PREDICT_CHUNK, padded to a power of two (a few
    compilations per device, whatever the counts asked for)."""
    arch_idx = np.asarray(arch_idx, np.int64)
    fn, variables = self.predict_fn(hw)
    fn = jax.jit(fn)
    ops = self.space.op_ids_AxS
    out = []
    size = min(PREDICT_CHUNK, 1 << max(0, len(arch_idx) - 1).bit_length())
    for start in range(0, len(arch_idx), size):
      chunk = arch_idx[start:start + size]
      padded = np.pad(chunk, (0, size - len(chunk)))  # pads with architecture 0
      out.append(np.asarray(fn(variables, ops[padded]), np.float64)[:len(chunk)])
    return np.concatenate(out) if out else np.zeros(0)

  def predict_fn(self, hw: str, surrogate: bool = True, chunk: Optional[int] = None):
    """(fn, variables): device `hw`'s adapted predictor as a pure function,
    fn(variables, ops_BxS int32) -> float32 [B] ms, with `ops` from `space.op_ids`; `variables`
    holds every member's parameters and ms line and the stack's weights, and `fn` composes with
    jit, vmap and grad. Any architecture of the space: an unmeasured FBNet network's proxies and
    training-device latencies come from a per-layer additive surrogate (NaN with
    `surrogate=False`); see `latpred.adapt.pure`. `chunk`: architectures per step of `fn`'s loop
    over the batch (None: `graphs.cache_batch`, sized for the CPU's cache, one step on
    accelerators; 0: one step). Built once per adapted device and options."""
    ens = self._adapted(hw)
    key = (hw, surrogate, chunk)
    if key not in self._fns or self._fns[key][0] is not ens:
      basis = self.stack_basis() if ens.stack is not None else None
      self._fns[key] = (ens, *pure.ensemble_fn(self.model, self.space, self.supp_AxD, ens, basis,
                                               surrogate=surrogate, chunk=chunk))
    return self._fns[key][1:]

  def _adapted(self, hw: str) -> ensemble.AdaptedEnsemble:
    if hw not in self.adapted:
      raise ValueError(f"device {hw!r} has no millisecond scale: adapt() it with measured "
                       "latencies first")
    return self.adapted[hw]

  @property
  def stack_physics(self) -> tuple:
    """The stack's physics columns (config.transfer.stack_physics; none in checkpoints written
    before the option)."""
    return stacking.config_physics(self.config.transfer)

  def stack_columns(self) -> list:
    """Names of the stack's columns (`stacking.columns`)."""
    return stacking.columns(self.train_hw, self.stack_physics)

  def stack_basis(self) -> np.ndarray:
    """`stacking.basis` over this checkpoint's training devices (their measured latencies)."""
    table = load_latency_table(self.space.name, self.data_dir)
    return stacking.basis(self.space, table.latency_ms_HxA[table.hw_indices(self.train_hw)],
                          self.stack_physics)

  def adapt(self, hw: str, archs: Sequence, latency_ms: Sequence[float],
            seed: int = 0) -> "LatencyPredictor":
    """A new predictor adapted to measured (arch, latency ms) of device `hw` (§5): a device of
    the space outside the training devices, or a new name. The fine-tunes run on this
    process's devices as config.parallel says (`latpred.train.mesh`)."""
    idx = self.space.indices_of(archs)
    latency_ms = np.asarray(latency_ms, np.float64)
    if len(idx) != len(latency_ms) or len(idx) < 3:
      raise ValueError("adapt() needs at least 3 architectures with one latency each")
    if not np.all(np.isfinite(latency_ms)) or np.any(latency_ms <= 0):
      raise ValueError("measured latencies must be finite and positive (milliseconds)")
    if len(np.unique(idx)) != len(idx):
      raise ValueError("adapt() needs distinct architectures (average repeated measurements)")
    if hw in self.train_hw:
      raise ValueError(f"{hw!r} is a training device of this checkpoint; adapt a new device")
    table = load_latency_table(self.space.name, self.data_dir)
    train_ids = table.hw_indices(self.train_hw)
    t = self.config.transfer
    use_stack = ensemble.stacks(t, len(idx))
    sources = train_ids, table.latency_ms_HxA[train_ids]
    if t.get("copy_synthetic", False):  # the synthetic rows may be copied too
      sources = self._with_synthetic(*sources)
    adapted = ensemble.adapt_ensemble(
        self.model, self.members, self.space.graph_set, self.supp_AxD,
        self.hw_names.index(hw) if hw in self.hw_names else None, idx, latency_ms, *sources,
        transfer.FineTune.from_config(t), seed=seed,
        stack_basis_AxK=self.stack_basis() if use_stack else None, stack_folds=t.stack_folds,
        stack_loss=t.get("stack_loss", "absolute"),
        placement=mesh.from_config(self.config, local=True))
    return dataclasses.replace(self, adapted={**self.adapted, hw: adapted}, _fns={})

  def _with_synthetic(self, train_ids, train_latency_HxA):
    """The training devices' rows and latencies, then the checkpoint's synthetic devices' (drawn
    again from the seed its pretraining saved)."""
    seed = self.meta.get("synthetic_seed")
    if seed is None:
      raise ValueError("transfer.copy_synthetic: this checkpoint does not record its synthetic "
                       "devices' seed; set config.transfer.copy_synthetic = False")
    rows, latency = stacking.synthetic_devices(
        self.space, train_latency_HxA, len(self.hw_names),
        self.config.pretrain.synthetic_devices, seed)
    return np.concatenate([train_ids, rows]), np.concatenate([train_latency_HxA, latency])

  def loo_predictions(self, hw: str) -> np.ndarray:
    """Leave-one-out predictions (ms) of `hw`'s own measurements, in the order given to
    `adapt` (`AdaptedEnsemble.loo_ms`; empty if the adaptation is not stacked)."""
    return self.adapted[hw].loo_ms(self.stack_basis())

  def loo_spearman(self, hw: str) -> float:
    """Spearman of `loo_predictions` against the measurements (NaN if not available)."""
    ens, loo = self.adapted[hw], self.loo_predictions(hw)
    if not len(loo):
      return float("nan")
    return metrics.spearman(loo, ens.sample_ms)

  def save_adapted(self, directory, hw: str) -> None:
    """Writes device `hw`'s adapted ensemble as a checkpoint `load` reads back adapted."""
    ens = self.adapted[hw]
    info = {"device": hw, "hw_row": [m.hw_row for m in ens.members],
            "source_hw": [synthetic.row_name(self.hw_names, m.source_hw) for m in ens.members],
            "scale_ms": [list(m.scale_ms) for m in ens.members], "stack": None}
    if ens.stack is not None:
      info["stack"] = {"columns": self.stack_columns(),
                       "weights": ens.stack.weights.tolist(), "scale": ens.stack.scale.tolist(),
                       "intercept": ens.stack.intercept, "loss": ens.stack.loss}
    for k, m in enumerate(ens.members):
      checkpoints.save(directory, k, m.params,
                       {**self.meta, "config": self.config.to_dict(), "adapted": info})


def _ensemble_from_meta(info: dict, members: list, hw_names) -> ensemble.AdaptedEnsemble:
  adapted = [transfer.Adapted(params, synthetic.row_index(hw_names, src), tuple(scale), row)
             for params, src, scale, row in zip(members, info["source_hw"], info["scale_ms"],
                                                info["hw_row"])]
  stack = None
  if info["stack"] is not None:
    st = info["stack"]
    stack = stacking.Stack(np.array(st["weights"]), np.array(st["scale"]), st["intercept"],
                           st.get("loss", "absolute"))
  return ensemble.AdaptedEnsemble(adapted, stack)
