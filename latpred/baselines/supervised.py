"""The supervised upper reference: a model fitted on 80 % of the target's own architectures and
scored on the other 20 % (an upper reference for few-shot transfer, not a competitor).

Per target, the better (by Spearman on a validation part of the 80 %) of
  lookup  least squares of latency (ms) on a one-hot op per node position plus the training
          devices' latencies (ms), free intercept: latency as a sum of per-(position, op) costs
  gnn     the config's GNN trained from scratch on the rest of the 80 % for GNN_EPOCHS epochs
          (ranking loss; ms through a least-squares line on those architectures)
The chosen lookup table is refitted on the whole 80 %; the GNN is kept as trained.
"""

import numpy as np

from latpred import metrics
from latpred.baselines import brpnas, simple
from latpred.model import build
from latpred.spaces import encodings
from latpred.train import loop

TRAIN_FRACTION = 0.8  # of all architectures: fitted on; the rest is scored
VALIDATION_FRACTION = 0.2  # of the 80 %: chooses between lookup and gnn
GNN_EPOCHS, GNN_BATCH, GNN_LR = 12, 64, 2e-3


def split(num_archs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(fit, validation, held-out) architecture indices, a seeded partition."""
  order = np.random.default_rng(seed).permutation(num_archs)
  cut = int(TRAIN_FRACTION * num_archs)
  val = int(VALIDATION_FRACTION * cut)
  return order[val:cut], order[:val], order[cut:]


def lookup_features(space, train_latency_HxA) -> np.ndarray:
  """[A, K]: one-hot op per node position, the training devices' latencies (ms), and 1."""
  onehot = encodings.encoding(space, "onehot").astype(np.float64)
  return np.column_stack([onehot, np.asarray(train_latency_HxA, np.float64).T,
                          np.ones(space.num_archs)])


def lookup_fit_predict(x_AxK, fit_idx, latency_ms) -> np.ndarray:
  """Least-squares (minimum-norm) predictions (ms) for every architecture."""
  w = np.linalg.lstsq(x_AxK[fit_idx], np.asarray(latency_ms, np.float64), rcond=None)[0]
  return x_AxK @ w


def gnn_fit_predict(s: build.Setup, hw_id: int, fit_idx, seed: int) -> np.ndarray:
  """The GNN trained from scratch on `fit_idx` of target `hw_id`: ms of every architecture."""
  p = s.config.pretrain
  lat = s.table.latency_ms_HxA[[hw_id]]
  params = brpnas.from_scratch(s, hw_id, fit_idx, lat, epochs=GNN_EPOCHS, batch=GNN_BATCH,
                               lr=GNN_LR, weight_decay=p.weight_decay, final_lr=p.final_lr,
                               seed=seed)
  scores = loop.predict(s.model, params, s.space.graph_set, s.supp, hw_id,
                        np.arange(s.space.num_archs))
  return simple.linear_ms(scores, fit_idx, lat[0, fit_idx])


def record(s: build.Setup, hw_id: int, seed: int) -> dict:
  """The chosen model's metrics on the held-out 20 % of target `hw_id` (`metrics.evaluate`)."""
  fit, val, held = split(s.space.num_archs, seed)
  truth = s.table.latency_ms_HxA[hw_id].astype(np.float64)
  x = lookup_features(s.space, s.table.latency_ms_HxA[s.train_ids])
  candidates = {"lookup": lookup_fit_predict(x, fit, truth[fit]),
                "gnn": gnn_fit_predict(s, hw_id, fit, seed)}
  val_sp = {k: metrics.spearman(v[val], truth[val]) for k, v in candidates.items()}
  chosen = max(val_sp, key=val_sp.get)
  pred = candidates[chosen]
  if chosen == "lookup":
    both = np.concatenate([fit, val])
    pred = lookup_fit_predict(x, both, truth[both])
  return {**metrics.evaluate(pred[held], truth[held], s.space.disconnected_A[held]),
          "chosen": chosen, "validation_spearman": val_sp,
          "eval": f"held-out {len(held)} of {s.space.num_archs}"}
