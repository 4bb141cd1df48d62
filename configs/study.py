"""The NASFLAT design study (issue 4, method.md §10) as config sweeps.

Each study is `sweep_<name>(add)`, which calls `add(label, {dotted field: value})` once per
point (fields as in configs/nasflat.py, e.g. 'model.layer_type'); a point may name its own tasks
with `tasks=(...)`. Every point runs configs/nasflat.py with `BASE` and
then its overrides, on `TASKS` (the tuning tasks: the seven paper tasks are never used to choose
a design). `BASE` studies the GNN itself: one predictor per trial and no stack, so the stack's
training-device columns cannot hide a design difference.

  python experiments/study.py --study=gnn_type --workdir=out/study      # one study
  python experiments/study.py --study=all --workdir=out/study           # every study

Points whose pretraining settings agree share one pretrained checkpoint (per task and trial).
"""

BASE = {"pretrain.ensemble_size": 1, "transfer.stack": False, "num_trials": 2,
        "transfer.num_samples": 20}
TASKS = ("NT1", "FT3")  # tuning splits (latpred.protocol.tasks.TUNING_TASKS)


def sweep_gnn_type(add):
  """GNN layers: DGF vs GAT vs both (the reference's ensemble)."""
  for layer_type in ("dgf", "gat", "ensemble"):
    add(layer_type, {"model.layer_type": layer_type})


def sweep_placement_init(add):
  """Hardware-embedding placement (every op node vs the head) x target-row initialisation
  (copied from the most correlated training device vs the target's own untrained row)."""
  for placement in ("opwise", "head"):
    for row_init in ("copy", "random"):
      add(f"{placement}/{row_init}",
          {"model.hw_placement": placement, "transfer.row_init": row_init})


def sweep_samplers(add):
  """Which m architectures to measure ('latency' is an oracle: it reads the target's latency)."""
  for sampler in ("random", "flops", "params", "latency", "kmeans", "cosine", "kmeans_cosine"):
    add(sampler, {"transfer.sampler": sampler})


def sweep_encodings(add):
  """Supplementary per-architecture encodings beside the graph (ZCP exist for FBNet only)."""
  for spec in ("none", "flops_params", "opcount", "flops_params+opcount"):
    add(f"nb201:{spec}", {"model.supp_encoding": spec}, tasks=("NT1",))
  for spec in ("none", "zcp", "flops_params", "zcp+flops_params"):
    add(f"fbnet:{spec}", {"model.supp_encoding": spec}, tasks=("FT3",))


def sweep_pretrain_archs(add):
  """Architectures per training device in pretraining."""
  for n in (16, 64, 128, 256, 512, 800):
    add(str(n), {"pretrain.samples": n})


def sweep_target_samples(add):
  """Measured architectures on the target."""
  for m in (5, 10, 15, 20, 30):
    add(str(m), {"transfer.num_samples": m})


def sweep_graph_variants(add):
  """Graph construction: NB201 full vs pruned (none/skip removed); FBNet chain vs identity."""
  for variant in ("full", "pruned"):
    add(f"nb201:{variant}", {"data.graph_variant": variant}, tasks=("NT1",))
  for variant in ("chain", "identity"):
    add(f"fbnet:{variant}", {"data.graph_variant": variant}, tasks=("FT3",))


STUDIES = {
    "gnn_type": sweep_gnn_type,
    "placement_init": sweep_placement_init,
    "samplers": sweep_samplers,
    "encodings": sweep_encodings,
    "pretrain_archs": sweep_pretrain_archs,
    "target_samples": sweep_target_samples,
    "graph_variants": sweep_graph_variants,
}


def sweep(add, study: str = "gnn_type"):
  """Calls `add(label, overrides, tasks=...)` for every point of `study`."""
  if study not in STUDIES:
    raise ValueError(f"unknown study {study!r}; valid: {', '.join(STUDIES)}")
  STUDIES[study](add)
