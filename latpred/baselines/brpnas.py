"""Baselines that train the config's GNN from scratch on one target device.

  brpnas   BRP-NAS-style: the GNN (no pretraining, no training devices) trained on the target's
           m samples with the ranking loss, for BRPNAS_EPOCH_FACTOR x transfer.epochs epochs
  ceiling  the GNN trained on CEILING_TRAIN_FRACTION of the target's own architectures for
           CEILING_EPOCHS epochs and scored on the rest: a practical upper limit (it ignores m)
"""

import numpy as np

from latpred import metrics
from latpred.model import build
from latpred.train import loop

CEILING_TRAIN_FRACTION, CEILING_EPOCHS = 0.8, 3
BRPNAS_EPOCH_FACTOR = 5


def from_scratch(s: build.Setup, hw_id: int, archs, latency_1xA, *, epochs: int, batch: int,
                 lr: float, weight_decay: float, final_lr: float, seed: int):
  """The config's GNN trained from a fresh init on `archs` of one device (ranking loss)."""
  params = build.init_params(s.model, s.space, s.supp, seed)
  params, _ = loop.fit(s.model, params, s.space.graph_set, s.supp, [hw_id], latency_1xA, archs,
                       epochs=epochs, batch_size=batch, lr=lr, weight_decay=weight_decay,
                       final_lr=final_lr, seed=seed)
  return params


def brpnas_scores(s: build.Setup, hw_id: int, picks, sample_latency_ms, seed: int):
  """Scores of every architecture from the GNN trained on the m samples only."""
  t = s.config.transfer
  lat = np.zeros((1, s.space.num_archs), np.float32)
  lat[0, picks] = sample_latency_ms
  params = from_scratch(s, hw_id, picks, lat, epochs=BRPNAS_EPOCH_FACTOR * t.epochs,
                        batch=t.batch, lr=t.lr, weight_decay=t.weight_decay,
                        final_lr=t.final_lr, seed=seed)
  return loop.predict(s.model, params, s.space.graph_set, s.supp, hw_id,
                      np.arange(s.space.num_archs))


def ceiling_row(s: build.Setup, hw_id: int, seed: int) -> dict:
  """Spearman/Kendall on the held-out 20 % after training on 80 % of the target's archs."""
  p = s.config.pretrain
  order = np.random.default_rng(seed).permutation(s.space.num_archs)
  cut = int(CEILING_TRAIN_FRACTION * len(order))
  train, held = order[:cut], order[cut:]
  lat = s.table.latency_ms_HxA[[hw_id]]
  params = from_scratch(s, hw_id, train, lat, epochs=CEILING_EPOCHS, batch=p.batch, lr=p.lr,
                        weight_decay=p.weight_decay, final_lr=p.final_lr, seed=seed)
  pred = loop.predict(s.model, params, s.space.graph_set, s.supp, hw_id, held)
  truth = lat[0, held]
  return {"spearman": metrics.spearman(pred, truth), "kendall": metrics.kendall(pred, truth),
          "eval": f"held-out {len(held)} of {s.space.num_archs}"}
