"""BRP-NAS-style baseline: the config's GNN (no pretraining, no training devices) trained from
scratch on the target's m samples with the ranking loss, for BRPNAS_EPOCH_FACTOR x
transfer.epochs epochs; milliseconds through a least-squares line on the samples."""

import numpy as np

from latpred.model import build
from latpred.train import loop

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
