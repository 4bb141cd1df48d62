"""Numpy probes for the learned-transfer issue (docs/tuning.md, "Session 7 probes").

  python experiments/transfer_probes.py --probe=residual_gp --tasks=FT3,FT4,NT1,NT2
  python experiments/transfer_probes.py --probe=relative --tasks=FT3,FT4,NT1,NT2
  python experiments/transfer_probes.py --probe=ceiling --tasks=ND,FD,F1,F2,F3,F4,FA

residual_gp  the stack (non-negative least squares on the training devices' ms, MFLOPs, Mparams,
             compute ops, and the default config's physics columns since session 13; session
             7's records were made without them) as the mean of a Gaussian process whose
             kernel is a sum of linear kernels on groups of architecture features: T op-type
             counts, S counts per (stage, op) (FBNet; NB201: one-hot (edge, op)), O one-hot
             (position, op); the groups' variances and the noise by type-II maximum likelihood
             on the m samples, the mean's weights by generalised NNLS. Runner samples, 3
             trials, every target.
relative     the stack fitted on relative errors (rows weighted 1/latency) against the landed
             absolute fit.
ceiling      data reading, not tuning: per target, whether it reports whole milliseconds and what
             a lookup table (one-hot op per position + the training devices' ms) fitted on ALL of
             its architectures reaches in-sample (an optimistic bound for additive models).
Tuning decisions may use only the tuning splits (FT3, FT4, NT1, NT2).
"""

import pathlib
import sys
import warnings

import numpy as np
import scipy.linalg
import scipy.optimize
from absl import app, flags

warnings.filterwarnings("ignore")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # configs/

from configs import nasflat  # noqa: E402
from latpred import metrics  # noqa: E402
from latpred.adapt import stacking  # noqa: E402
from latpred.baselines import supervised  # noqa: E402
from latpred.model import build  # noqa: E402
from latpred.protocol import runner, tasks  # noqa: E402
from latpred.spaces import encodings  # noqa: E402

_PROBE = flags.DEFINE_enum("probe", "residual_gp", ["residual_gp", "relative", "ceiling"], "")
_TASKS = flags.DEFINE_list("tasks", ["FT3", "FT4", "NT1", "NT2"], "Task names.")
_SAMPLES = flags.DEFINE_list("num_samples", ["5", "10", "20"], "Target sample counts.")
GROUPS = {"+T": ["T"], "+TS": ["T", "S"], "+TSO": ["T", "S", "O"]}


def _standard(x):
  x = x[:, x.std(0) > 0]
  return (x - x.mean(0)) / x.std(0) / np.sqrt(x.shape[1])


def feature_groups(s) -> dict:
  gs = s.space.graph_set
  types, num_types = gs.node_types_AxN, len(s.space.node_types)
  counts = np.stack([(types == t).sum(1) for t in range(num_types)], 1).astype(float)
  onehot = encodings.encoding(s.space, "onehot").astype(np.float64)
  if s.space.name == "nb201":
    per_stage = onehot
  else:  # stage of a layer: its spatial size, FLOPs / params of its ops
    flops, params = (gs.node_feats_AxNxF[..., k].astype(float) for k in (2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
      ratio = np.nanmedian(np.where(params > 1e-9, flops / params, np.nan), 0)
    stage = np.unique(np.round(np.log2(np.nan_to_num(ratio) + 1e-9)), return_inverse=True)[1]
    per_stage = np.stack([((types == t) & (stage[None] == g)).sum(1) for t in range(num_types)
                          for g in range(stage.max() + 1)], 1).astype(float)
  return {"T": _standard(counts), "S": _standard(per_stage), "O": _standard(onehot)}


def _gls_nnls(chol, x, y):
  design = scipy.linalg.solve_triangular(chol, np.column_stack([x, np.ones(len(y))]), lower=True)
  target = scipy.linalg.solve_triangular(chol, y, lower=True)
  lower = np.r_[np.zeros(x.shape[1]), -np.inf]
  return scipy.optimize.lsq_linear(design, target, bounds=(lower, np.inf), method="bvls").x


def residual_gp(basis, groups, names, picks, y):
  ys = y[picks] / y[picks].mean()
  live = basis[picks].std(0) > 0  # as the landed stack: constant columns get no weight
  xn = basis[:, live] / basis[picks][:, live].std(0)
  feats = [groups[n][picks] for n in names]
  grams = [f @ f.T for f in feats]

  def kernel(t):
    return sum(ti * g for ti, g in zip(t[:-1], grams)) + t[-1] * np.eye(len(ys))

  def nll(log_t):
    chol = np.linalg.cholesky(kernel(np.exp(log_t)))
    w = _gls_nnls(chol, xn[picks], ys)
    r = scipy.linalg.solve_triangular(
        chol, ys - np.column_stack([xn[picks], np.ones(len(ys))]) @ w, lower=True)
    return 0.5 * r @ r + np.log(np.diag(chol)).sum()

  best = min((scipy.optimize.minimize(nll, np.array(init), method="L-BFGS-B",
                                      bounds=[(-14, 4)] * len(grams) + [(-12, 0)])
              for init in ([-2.0] * len(grams) + [-4.0], [-6.0] * len(grams) + [-3.0])),
             key=lambda r: r.fun)
  t = np.exp(best.x)
  k = kernel(t)
  w = _gls_nnls(np.linalg.cholesky(k), xn[picks], ys)
  mean = np.column_stack([xn, np.ones(len(xn))]) @ w
  alpha = np.linalg.solve(k, ys - mean[picks])
  cross = sum(ti * (groups[n] @ f.T) for ti, n, f in zip(t[:-1], names, feats))
  return y[picks].mean() * (mean + cross @ alpha)


def relative_stack(basis, picks, y):
  live = basis[picks].std(0) > 0  # as the landed stack: constant columns get no weight
  x, ys = basis[:, live] / basis[picks][:, live].std(0), y[picks]
  design = np.column_stack([x[picks], np.ones(len(ys))]) / ys[:, None]
  lower = np.r_[np.zeros(x.shape[1]), -np.inf]
  w = scipy.optimize.lsq_linear(design, np.ones(len(ys)), bounds=(lower, np.inf),
                                method="bvls").x
  return np.column_stack([x, np.ones(len(x))]) @ w


def setup(name, m):
  task = tasks.get_task(name)
  config = nasflat.get_config()
  config.data.task, config.transfer.num_samples = name, m
  return task, build.make_setup(config, task.space, task.train_hw)


def probe_predictions(name):
  for m in map(int, _SAMPLES.value):
    task, s = setup(name, m)
    basis = stacking.basis(s.space, s.table.latency_ms_HxA[s.train_ids].astype(np.float64),
                           stacking.config_physics(s.config.transfer))
    groups = feature_groups(s) if _PROBE.value == "residual_gp" else None
    scores = {}
    for trial in range(3):
      for hw in task.test_hw:
        h = s.table.hw_index(hw)
        y = s.table.latency_ms_HxA[h].astype(np.float64)
        picks = runner.target_samples(s, trial, h)
        preds = {"stack": stacking.fit(basis[picks], y[picks]).predict(basis)}
        if _PROBE.value == "relative":
          preds["relative"] = relative_stack(basis, picks, y)
        else:
          preds.update({k: residual_gp(basis, groups, v, picks, y) for k, v in GROUPS.items()})
        for k, p in preds.items():
          e = metrics.evaluate(p, y, s.space.disconnected_A)
          scores.setdefault(k, []).append((e["spearman"], e["within_10pct"], e["median_ape_pct"]))
    for k, v in scores.items():
      sp, w10, med = np.mean(v, 0)
      print(f"| {name} | {m} | {k} | {sp:.3f} | {w10:.1f} | {med:.1f} |", flush=True)


def ceiling(name):
  task, s = setup(name, 20)
  x = supervised.lookup_features(s.space, s.table.latency_ms_HxA[s.train_ids])
  for hw in task.test_hw:
    y = s.table.latency_ms_HxA[s.table.hw_index(hw)].astype(np.float64)
    e = metrics.evaluate(supervised.lookup_fit_predict(x, np.arange(len(y)), y), y,
                         s.space.disconnected_A)
    whole = np.mean(np.abs(y - np.round(y)) < 1e-6)
    print(f"| {name} | {hw} | {whole:.2f} | {np.median(y):.2f} | {e['spearman']:.3f} | "
          f"{e['within_10pct']:.1f} | {e['median_ape_pct']:.1f} |", flush=True)


def main(argv):
  del argv
  if _PROBE.value == "ceiling":
    print("| task | target | share whole ms | median ms | Spearman | within ±10 % | median err % |")
    for name in _TASKS.value:
      ceiling(name)
    return
  print("| task | m | method | Spearman | within ±10 % | median err % |")
  for name in _TASKS.value:
    probe_predictions(name)


if __name__ == "__main__":
  app.run(main)
