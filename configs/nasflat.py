"""NASFLAT predictor, pretrain -> transfer -> evaluate on one task (latpred defaults).

Run (2-core CPU):
  python experiments/run_task.py --config=configs/nasflat.py --config.task=FD \
      --config.num_samples=20 --config.num_trials=3 --workdir=/tmp/fd

Custom task: --config.space=fbnet --config.train_hw=a,b,c --config.test_hw=x,y
Smoke/test config: --config=configs/nasflat.py:smoke

Tuned on the generated NB201 tasks N1g, N4g and the FBNet tuning splits FT1, FT2 only (never on
the seven paper tasks); every run is in docs/tuning.md. What was chosen there: DGF layers (as good
as the GAT+DGF ensemble, 2.5x faster), per-node FLOPs/params features, the additive readout with a
device-weighted linear FLOPs/params term, the k-means target sampler, an ensemble of 3 predictors
per trial, and the stack (latpred/stacking.py: the final ms prediction is a non-negative mix of
the cross-fitted GNN, the training devices' latencies and FLOPs/params/op count; FT1 0.771 ->
0.806, FT2 0.823 -> 0.904, N1g/N4g -0.003/-0.007).

Expected on the 2-core CPU (experiments/benchmark.py --tasks=ND,FD,F1,F2,F3,F4,FA
--num_samples=5,10,20 --num_trials=3; mean SRCC over target devices and trials, all
architectures, 20 samples): ND 0.968, FD 0.974, F1 0.883, F2 0.895, F3 0.901, F4 0.804,
FA 0.763 (mean 0.884). Runtime per trial (median of 3, pretraining + every target): 58 s for ND,
56-61 s for the 5-device FBNet tasks, 88 s for FD, 89 s for F4, 129 s for FA; pretraining grows
linearly with training devices (about 2.5 s per device and ensemble member at 512 architectures x
20 epochs) and with pretraining architectures (FD, one member: 256 -> 15 s, 1024 -> 49 s);
transfer with the stack costs about 5 s per target at 20 samples.
"""

import ml_collections


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # Data / task
  c.task = "FD"  # a registered task name (latpred.tasks.TASKS), or 'custom'
  c.space = ""  # with train_hw/test_hw: 'nb201' | 'fbnet'
  c.train_hw = ""  # comma-separated device names; non-empty makes a custom task
  c.test_hw = ""
  c.data_dir = ""  # default: $LATPRED_DATA_DIR, else the user cache (downloaded)
  c.graph_variant = ""  # nb201: full | pruned; fbnet: chain | identity ('' = default)

  # Model
  c.op_dim = 48  # op embedding width
  c.hw_dim = 8  # hardware-embedding row width
  c.hw_placement = "opwise"  # opwise | head
  c.layer_type = "dgf"  # dgf | gat | ensemble (the paper's choice; see the docstring)
  c.first_pass_layers = 2  # 0 disables the two-pass op-embedding update
  c.main_layers = 3
  c.width = 128
  c.node_features = True  # per-node FLOPs/params beside the op embedding (beyond reference)
  c.linear_cost = True  # additive readout: + device-weighted node FLOPs/params (beyond reference)
  c.additive_readout = True  # sum of per-node costs beside the pooled head (beyond reference)
  # Supplementary per-architecture encoding: 'none' or kinds joined by '+' (zcp: fbnet only,
  # flops_params, opcount, onehot); 'auto' uses the per-space field below.
  c.supp_encoding = "auto"
  c.supp_encoding_nb201 = "flops_params+opcount"
  c.supp_encoding_fbnet = "zcp+flops_params"
  c.dropout = 0.1

  # Pretraining (on the task's training devices, vmapped over devices)
  c.ensemble_size = 3  # predictors per trial (own pretraining seed and fine-tune), scores averaged
  c.pretrain_samples = 512  # architectures per training device (the same ones on every device)
  c.pretrain_sampler = "random"
  c.pretrain_epochs = 20
  c.pretrain_batch = 32  # architectures per step (x training devices)
  c.lr = 1e-3
  c.weight_decay = 1e-5
  c.final_lr = 1e-6

  # Transfer (per target device, from the pretrained parameters)
  c.num_samples = 20  # measured architectures on the target
  c.sampler = "kmeans"  # over the supplementary encoding (see latpred.samplers)
  c.transfer_epochs = 40
  c.transfer_batch = 16
  c.transfer_lr = 1e-3
  c.freeze = ""  # comma-separated parameter-name prefixes to freeze, e.g. 'op_embed,first_'
  c.row_init = "copy"  # target's hardware row: copy (most correlated training device) | random
  # Fine-tune the ensemble members and cross-fitting folds of a target as one vmapped program.
  # Off: on the 2-core CPU it measured 1.2x slower than one after the other (docs/vmap.md);
  # worth measuring on an accelerator (experiments/vmap_trials.py).
  c.vmap_fine_tune = False
  # Stacked transfer (latpred.stacking, beyond reference): the final ms prediction is a
  # non-negative mix of the GNN, the training devices' latencies and FLOPs/params/op count,
  # fitted on the samples with the GNN column cross-fitted over `stack_folds` folds.
  c.stack = True
  c.stack_folds = 5

  # Baselines (latpred.baselines; the nasflat method ignores these)
  c.help_episodes = 2000  # HELP's meta-training episodes (its default)

  # Evaluation
  c.eval_set = "all"  # all | exclude_samples | paper_first128
  c.num_trials = 3
  c.seed = 0

  if arg == "smoke":
    c.pretrain_samples, c.pretrain_epochs, c.transfer_epochs = 32, 2, 2
    c.width, c.num_trials, c.num_samples, c.ensemble_size = 16, 1, 8, 2
    c.stack_folds, c.help_episodes = 2, 20
  elif arg:
    raise ValueError(f"unknown config arg {arg!r}; valid: '' or 'smoke'")
  return c
