"""pretrain -> transfer -> evaluate for every target of a task; resumable; writes results."""

import dataclasses
import json
import pathlib
import sys
import time

import jax
import ml_collections
import numpy as np

from latpred import checkpoints, encodings, graphs as graphs_lib, plots, samplers, tasks
from latpred import stacking, transfer
from latpred import __version__
from latpred.data import LatencyTable, load_latency_table, tables
from latpred.evaluation import metrics, report
from latpred.models.predictor import Predictor
from latpred.spaces import SearchSpace, load_space
from latpred.train import loop

_CHOICES = {"hw_placement": ("opwise", "head"), "layer_type": ("dgf", "gat", "ensemble"),
            "eval_set": metrics.EVAL_SETS, "sampler": samplers.SAMPLERS,
            "pretrain_sampler": samplers.SAMPLERS, "row_init": transfer.ROW_INITS}


def validate(config) -> None:
  """Rejects unknown choices with the valid ones listed."""
  for field, valid in _CHOICES.items():
    if config[field] not in valid:
      raise ValueError(f"config.{field}={config[field]!r}; valid: {', '.join(valid)}")
  for field in ("supp_encoding", "supp_encoding_nb201", "supp_encoding_fbnet"):
    if config[field] != "auto":
      encodings.parse_kinds(config[field])
  if "zcp" in encodings.parse_kinds(config.supp_encoding_nb201):
    raise ValueError("config.supp_encoding_nb201: zero-cost proxies exist for fbnet only")
  for field in ("num_samples", "num_trials", "pretrain_samples", "pretrain_batch",
                "transfer_batch", "ensemble_size"):
    if config[field] < 1:
      raise ValueError(f"config.{field} must be >= 1, got {config[field]}")
  if config.stack and not 2 <= config.stack_folds <= config.num_samples:
    raise ValueError(f"config.stack_folds must be in [2, num_samples={config.num_samples}], "
                     f"got {config.stack_folds}")


def encoding_spec(config, space: str) -> str:
  """The supplementary encoding for `space`: supp_encoding, or the per-space field if 'auto'."""
  if config.supp_encoding != "auto":
    return config.supp_encoding
  return config[f"supp_encoding_{space}"]


def resolve_task(config) -> tasks.Task:
  if config.train_hw or config.test_hw:
    if not config.space:
      raise ValueError("a custom task (--config.train_hw/test_hw) needs --config.space")
    return tasks.custom_task(config.space, config.train_hw.split(","), config.test_hw.split(","))
  return tasks.get_task(config.task)


def build_model(config, space, num_hw) -> Predictor:
  return Predictor(num_node_types=len(space.node_types), num_hw=num_hw, op_dim=config.op_dim,
                   hw_dim=config.hw_dim, hw_placement=config.hw_placement,
                   layer_type=config.layer_type, first_pass_layers=config.first_pass_layers,
                   main_layers=config.main_layers, width=config.width,
                   additive_readout=config.additive_readout, dropout=config.dropout,
                   node_features=config.node_features, linear_cost=config.linear_cost)


def init_params(model, space, supp, seed):
  g = graphs_lib.batch(space.graph_set, np.arange(1), 1)
  s = np.zeros((2, supp.shape[1]), np.float32) if supp.shape[1] else None
  return model.init({"params": jax.random.PRNGKey(seed), "dropout": jax.random.PRNGKey(seed)},
                    g, 0, s)


# Fields that do not determine a NASFLAT checkpoint (help_episodes is a baseline's field).
_TRANSFER_FIELDS = ("data_dir", "ensemble_size", "num_samples", "sampler", "transfer_epochs",
                    "transfer_batch", "transfer_lr", "freeze", "eval_set", "num_trials", "stack",
                    "stack_folds", "row_init", "vmap_fine_tune", "help_episodes")


def pretrain_signature(config, name: str, space: str, train_hw) -> dict:
  """Everything that determines a pretrained checkpoint (config less transfer/eval fields)."""
  sig = {k: v for k, v in config.to_dict().items() if k not in _TRANSFER_FIELDS}
  sig.update(task=name, train_hw=list(train_hw), space=space)
  return sig


MAX_MEMBERS = 1000  # checkpoint step = trial * MAX_MEMBERS + ensemble member


def log(msg):
  """A progress line on stderr (flushed)."""
  print(msg, file=sys.stderr, flush=True)


def _read_jsonl(path):
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclasses.dataclass(frozen=True)
class Setup:
  """What pretraining and transfer on one space and list of training devices share."""

  config: ml_collections.ConfigDict
  space: SearchSpace
  table: LatencyTable
  supp: np.ndarray  # the supplementary encoding [A, D]
  sampler_enc: np.ndarray  # what the encoding-based samplers cluster
  train_ids: np.ndarray
  model: Predictor
  meta: dict  # checkpoint metadata

  def sample_kwargs(self, hw_id=None) -> dict:
    return dict(mflops=self.space.mflops_A, mparams=self.space.mparams_A,
                encoding=self.sampler_enc,
                latency=None if hw_id is None else self.table.latency_ms_HxA[hw_id])


def target_samples(s: Setup, trial: int, hw_id: int) -> np.ndarray:
  """The m architectures measured on target `hw_id` in `trial` (every method uses the same)."""
  seed = s.config.seed + 1000 * trial
  return samplers.sample(s.config.sampler, s.config.num_samples, seed + 1 + hw_id,
                         pool=np.arange(s.space.num_archs), **s.sample_kwargs(hw_id))


def make_setup(config, name: str, space_name: str, train_hw) -> Setup:
  validate(config)
  data_dir = config.data_dir or None
  space = load_space(space_name, data_dir, config.graph_variant)
  table = load_latency_table(space_name, data_dir)
  enc_spec = encoding_spec(config, space_name)
  supp = encodings.encoding(space, enc_spec, data_dir)
  sampler_enc = supp if supp.shape[1] else encodings.encoding(space, "flops_params")
  meta = {"config": config.to_dict(), "hw_names": list(table.hw_names), "space": space_name,
          "graph_variant": space.graph_variant, "encoding": enc_spec,
          "encoding_version": encodings.VERSION, "latpred_version": __version__,
          "pretrain_signature": pretrain_signature(config, name, space_name, train_hw)}
  return Setup(config, space, table, supp, sampler_enc, table.hw_indices(train_hw),
               build_model(config, space, table.num_hw), meta)


def pretrain_member(s: Setup, pretrained_dir, trial: int, member: int, seed: int):
  """Pretrained parameters of one ensemble member (restored if checkpointed) and seconds."""
  config = s.config
  step = trial * MAX_MEMBERS + member
  like = init_params(s.model, s.space, s.supp, seed)
  restored = checkpoints.restore(pretrained_dir, step, like)
  if restored is not None:
    params, saved_meta = restored
    if saved_meta.get("pretrain_signature") != s.meta["pretrain_signature"]:
      raise ValueError(f"{pretrained_dir} holds a checkpoint for trial {trial} pretrained with "
                       "another configuration or task; use a new workdir/pretrained_dir")
    return params, saved_meta.get("pretrain_s") or 0.0
  t0 = time.time()
  pool = np.arange(s.space.num_archs)
  archs = samplers.sample(config.pretrain_sampler, min(config.pretrain_samples, len(pool)),
                          seed, pool=pool, **s.sample_kwargs(s.train_ids[0]))
  params, _ = loop.fit(
      s.model, like, s.space.graph_set, s.supp, s.train_ids,
      s.table.latency_ms_HxA[s.train_ids], archs, epochs=config.pretrain_epochs,
      batch_size=config.pretrain_batch, lr=config.lr, weight_decay=config.weight_decay,
      final_lr=config.final_lr, seed=seed,
      progress=lambda e, l: log(f"[trial {trial} member {member}] pretrain epoch {e + 1}/"
                                 f"{config.pretrain_epochs} loss {l:.4f}"))
  seconds = time.time() - t0
  checkpoints.save(pretrained_dir, step, params,
                   {**s.meta, "trial": trial, "member": member, "pretrain_s": seconds})
  return params, seconds


def pretrain_ensemble(s: Setup, pretrained_dir, trial: int):
  """[(params, seconds)] for every ensemble member of `trial` (seeds as in `run`)."""
  seed = s.config.seed + 1000 * trial
  return [pretrain_member(s, pretrained_dir, trial, k, seed + 7919 * k)
          for k in range(s.config.ensemble_size)]


def pretrain(config, pretrained_dir) -> list:
  """Pretrains trial 0's ensemble on `config.train_hw` of `config.space` (all its devices when
  empty), for users who then adapt to their own device (experiments/pretrain.py)."""
  if not config.space:
    raise ValueError("pretraining needs --config.space (nb201 or fbnet)")
  tables.check_space(config.space)
  train_hw = [h for h in config.train_hw.split(",") if h] or list(tables.hw_names(config.space))
  known = tables.hw_names(config.space)
  unknown = [h for h in train_hw if h not in known]
  if unknown or len(set(train_hw)) != len(train_hw):
    raise ValueError(f"bad --config.train_hw {unknown or train_hw}: names must be distinct "
                     f"{config.space} devices; valid: {', '.join(known)}")
  s = make_setup(config, "pretrain", config.space, train_hw)
  return pretrain_ensemble(s, pathlib.Path(pretrained_dir), trial=0)


def run(config, workdir, pretrained_dir=None) -> dict:
  """Runs the task; returns (and writes to workdir/results.json) the results.

  Pretrained checkpoints go to `pretrained_dir` (default workdir/pretrained); runs that differ
  only in transfer settings (samples, sampler, epochs) may share one.
  """
  validate(config)
  t_start = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  pretrained_dir = pathlib.Path(pretrained_dir or workdir / "pretrained")
  task = resolve_task(config)
  s = make_setup(config, task.name, task.space, task.train_hw)
  space, table, supp, model, train_ids = s.space, s.table, s.supp, s.model, s.train_ids
  stack_basis = stacking.basis(space, table.latency_ms_HxA[train_ids])
  fine_tune = transfer.FineTune.from_config(config)

  log_path = workdir / "trials.jsonl"
  done = {(r["trial"], r["device"]): r for r in _read_jsonl(log_path)}
  pretrain_s = {}

  for trial in range(config.num_trials):
    seed = config.seed + 1000 * trial
    if all((trial, hw) in done for hw in task.test_hw):
      saved = [checkpoints.restore_meta(pretrained_dir, trial * MAX_MEMBERS + k)
               for k in range(config.ensemble_size)
               if trial * MAX_MEMBERS + k in checkpoints.steps(pretrained_dir)]
      pretrain_s[trial] = float(sum(m.get("pretrain_s") or 0.0 for m in saved)) or None
      continue
    members = pretrain_ensemble(s, pretrained_dir, trial)
    pretrain_s[trial] = float(sum(sec for _, sec in members))
    for hw in task.test_hw:
      if (trial, hw) in done:
        continue
      t0 = time.time()
      hw_id = table.hw_index(hw)
      truth = table.latency_ms_HxA[hw_id]
      picks = target_samples(s, trial, hw_id)
      idx = metrics.eval_indices(config.eval_set, space.num_archs, picks)
      adapted = transfer.adapt_ensemble(
          model, [params for params, _ in members], space.graph_set, supp, hw_id, picks,
          truth[picks], train_ids, table.latency_ms_HxA[train_ids], fine_tune, seed=seed + hw_id,
          stack_basis_AxK=stack_basis if config.stack else None, stack_folds=config.stack_folds)
      gnn_ms = adapted.gnn_ms(model, space.graph_set, supp, idx)
      pred_ms, extra = gnn_ms, {}
      if adapted.stack is not None:
        pred_ms = adapted.stack.predict(np.column_stack([gnn_ms, stack_basis[idx]]))
        extra = {"spearman_gnn": metrics.spearman(gnn_ms, truth[idx]),
                 "stack_weights": adapted.stack.named_weights(task.train_hw)}
      sources = [table.hw_names[m.source_hw] for m in adapted.members]
      row = {"trial": trial, "device": hw, "spearman": metrics.spearman(pred_ms, truth[idx]),
             "kendall": metrics.kendall(pred_ms, truth[idx]), **extra,
             "copied_hw_row": sources[0] if len(set(sources)) == 1 else sources,
             "transfer_s": time.time() - t0}
      done[(trial, hw)] = row
      with open(log_path, "a") as f:
        f.write(json.dumps(row) + "\n")
      gnn_note = f", GNN alone {row['spearman_gnn']:.3f}" if config.stack else ""
      log(f"[trial {trial}] {hw}: SRCC {row['spearman']:.3f}{gnn_note} (row copied from "
           f"{row['copied_hw_row']}, {row['transfer_s']:.1f} s)")
      if trial == 0:
        plots.scatter(pred_ms, truth[idx], workdir / f"scatter_{hw}.png",
                       f"{task.name} -> {hw}, trial 0, {config.num_samples} samples")

  results = report.summarise(task, config, done, pretrain_s, time.time() - t_start)
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  (workdir / "results.md").write_text(report.markdown(results))
  return results
