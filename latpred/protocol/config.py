"""The run config's sections: validation, the flat names they replaced, and signatures.

A *signature* is the part of the config that determines a stored result: a pretrained checkpoint
(`pretrain_signature`: data + model + pretrain + seed, with the task's devices) or a finished
target's record (`record_signature`: that plus transfer + eval, and for a baseline the method and
the baselines section). Sections are whole: no field list is kept by hand. Two fields belong to no
signature: `data.data_dir` (where the data lives, not what it is) and `num_trials` (how many
trials to run; each record is keyed by its trial); nor does the `parallel` section (which
devices compute a result, not what it is).
"""

from typing import Sequence

from latpred import metrics
from latpred.adapt import stacking, transfer
from latpred.protocol import samplers
from latpred.spaces import encodings

SECTIONS = ("data", "model", "pretrain", "transfer", "eval", "baselines")

# latpred <= 0.1's flat field -> its place in the sections.
MOVED = {
    "task": "data.task", "space": "data.space", "train_hw": "data.train_hw",
    "test_hw": "data.test_hw", "data_dir": "data.data_dir", "graph_variant": "data.graph_variant",
    **{k: f"model.{k}" for k in (
        "op_dim", "hw_dim", "hw_placement", "layer_type", "first_pass_layers", "main_layers",
        "width", "node_features", "linear_cost", "additive_readout", "supp_encoding",
        "supp_encoding_nb201", "supp_encoding_fbnet", "dropout")},
    "ensemble_size": "pretrain.ensemble_size", "pretrain_samples": "pretrain.samples",
    "pretrain_sampler": "pretrain.sampler", "pretrain_epochs": "pretrain.epochs",
    "pretrain_batch": "pretrain.batch", "lr": "pretrain.lr",
    "weight_decay": "pretrain.weight_decay (and transfer.weight_decay)",
    "final_lr": "pretrain.final_lr (and transfer.final_lr)",
    "num_samples": "transfer.num_samples", "sampler": "transfer.sampler",
    "transfer_epochs": "transfer.epochs", "transfer_batch": "transfer.batch",
    "transfer_lr": "transfer.lr", "freeze": "transfer.freeze", "row_init": "transfer.row_init",
    "vmap_fine_tune": "transfer.vmap_fine_tune", "stack": "transfer.stack",
    "stack_folds": "transfer.stack_folds", "eval_set": "eval.eval_set",
    "help_episodes": "baselines.help_episodes",
}

_CHOICES = {"model.hw_placement": ("opwise", "head"),
            "model.layer_type": ("dgf", "gat", "ensemble"),
            "eval.eval_set": metrics.EVAL_SETS, "transfer.sampler": samplers.SAMPLERS,
            "pretrain.sampler": samplers.SAMPLERS, "transfer.row_init": transfer.ROW_INITS}
_POSITIVE = ("num_trials", "transfer.num_samples", "pretrain.samples", "pretrain.batch",
             "transfer.batch", "pretrain.ensemble_size")


def get(config, dotted: str):
  """config['a.b'] for a dotted name."""
  value = config
  for part in dotted.split("."):
    value = value[part]
  return value


def moved_error(name: str) -> ValueError:
  return ValueError(f"config field {name!r} moved to {MOVED[name]!r} (config sections): use "
                    f"--config.{MOVED[name].split(' ')[0]}=...")


def reject_moved_flags(argv: Sequence[str]) -> None:
  """Raises, naming the new field, for a `--config.<old flat name>=` flag (call it before
  absl parses the flags: ml_collections would end in a traceback)."""
  for arg in argv:
    if arg.startswith("--config."):
      name = arg[len("--config."):].split("=", 1)[0]
      if name in MOVED:
        raise SystemExit(f"error: {moved_error(name)}")


def validate(config) -> None:
  """Rejects missing sections, flat names and unknown choices, listing the valid ones."""
  for name in config.keys():
    if name in MOVED:
      raise moved_error(name)
  for section in SECTIONS:
    if section not in config:
      raise ValueError(f"config has no section {section!r}: a config from before the sections? "
                       "Start from configs/nasflat.py")
  for field, valid in _CHOICES.items():
    if get(config, field) not in valid:
      raise ValueError(f"config.{field}={get(config, field)!r}; valid: {', '.join(valid)}")
  m = config.model
  for field in ("supp_encoding", "supp_encoding_nb201", "supp_encoding_fbnet"):
    if m[field] != "auto":
      encodings.parse_kinds(m[field])
  if "zcp" in encodings.parse_kinds(m.supp_encoding_nb201):
    raise ValueError("config.model.supp_encoding_nb201: zero-cost proxies exist for fbnet only")
  for field in _POSITIVE:
    if get(config, field) < 1:
      raise ValueError(f"config.{field} must be >= 1, got {get(config, field)}")
  devices = config.get("parallel", {}).get("devices", -1)
  if not (devices == -1 or devices >= 1):
    raise ValueError(f"config.parallel.devices must be -1 (all) or >= 1, got {devices}")
  threads = config.get("parallel", {}).get("threads")
  if threads is not None and threads < 1:
    raise ValueError(f"config.parallel.threads must be >= 1, got {threads}")
  synthetic = config.pretrain.get("synthetic_devices", 0)
  if synthetic < 0:
    raise ValueError(f"config.pretrain.synthetic_devices must be >= 0, got {synthetic}")
  t = config.transfer
  if t.get("copy_synthetic", False) and not synthetic:
    raise ValueError("config.transfer.copy_synthetic needs pretrain.synthetic_devices > 0")
  stacking.config_physics(t)
  if t.get("stack_loss", "absolute") not in stacking.LOSSES:
    raise ValueError(f"config.transfer.stack_loss must be one of {', '.join(stacking.LOSSES)}, "
                     f"got {t.stack_loss!r}")
  if t.stack and not 2 <= t.stack_folds <= t.num_samples:
    raise ValueError(f"config.transfer.stack_folds must be in [2, transfer.num_samples="
                     f"{t.num_samples}], got {t.stack_folds}")


# Fields added after checkpoints and records existed, whose value here is the behaviour from
# before: at that value they are left out of signatures, so earlier results stay valid.
UNSIGNED_WHEN = {("model", "node_physics"): False, ("pretrain", "synthetic_devices"): 0,
                 ("transfer", "copy_synthetic"): False}


def _sections(config, names) -> dict:
  d = config.to_dict()
  out = {name: dict(d[name]) for name in names}
  if "data" in out:
    out["data"] = {k: v for k, v in out["data"].items() if k != "data_dir"}
  for (section, field), old in UNSIGNED_WHEN.items():
    if section in out and out[section].get(field, old) == old:
      out[section].pop(field, None)
  return out


def pretrain_signature(config, task_name: str, space: str, train_hw) -> dict:
  """What determines a pretrained checkpoint: data + model + pretrain + seed, and the task."""
  return {**_sections(config, ("data", "model", "pretrain")), "seed": config.seed,
          "task": task_name, "space": space, "train_hw": list(train_hw)}


# Transfer fields only some methods read: the stack's (the nasflat method and the stack_only
# baseline) and the fine-tune's row copy (nasflat only). The other methods' records do not depend
# on them, so they stay valid when these change.
STACKED_METHODS = ("nasflat", "stack_only")
READ_ONLY_BY = {"stack_physics": STACKED_METHODS, "stack_loss": STACKED_METHODS,
                "copy_synthetic": ("nasflat",)}


def record_signature(config, pretrain_sig: dict, method: str = "nasflat") -> dict:
  """What determines a finished target's record: the pretraining's, transfer and eval (and the
  baselines section for a baseline); a READ_ONLY_BY field only for the methods that read it."""
  names = ("transfer", "eval") if method == "nasflat" else ("transfer", "eval", "baselines")
  out = {"method": method, **pretrain_sig, **_sections(config, names)}
  out["transfer"] = {k: v for k, v in out["transfer"].items()
                     if method in READ_ONLY_BY.get(k, (method,))}
  return out


def signature_diff(old, new, prefix: str = "") -> list[str]:
  """Dotted names of the fields whose values differ between two signatures."""
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for key in sorted(set(old) | set(new), key=str):
      name = f"{prefix}.{key}" if prefix else str(key)
      if key not in old or key not in new:
        out.append(name)
      else:
        out += signature_diff(old[key], new[key], name)
    return out
  return [] if old == new else [prefix or "(whole signature)"]
