"""What an unmeasured network costs the predictor: measured networks treated as unmeasured.

A pure predict function (`LatencyPredictor.predict_fn`) accepts any architecture of the space.
Two of its inputs exist only for measured networks (FBNet's zero-cost proxies, the training
devices' latencies read by the stack); an unmeasured network gets them from a per-layer additive
surrogate (`latpred.adapt.pure`). `surrogate_cost` measures what that costs on networks whose
latency is known: it adapts the predictor to a device of the space from m measured networks, then
predicts a held-out share of the measured networks twice, once reading their table inputs and
once as if they were unmeasured (surrogate fitted on the other networks only), and scores both.
"""

import time

import jax
import numpy as np

from latpred import metrics
from latpred.adapt import pure
from latpred.data import load_latency_table

METRICS = ("spearman", "within_10pct", "median_ape_pct", "mape_pct")


def surrogate_cost(predictor, hw: str, num_samples: int = 20, held_fraction: float = 0.2,
                   seed: int = 0) -> dict:
  """Metrics of device `hw`'s held-out networks with table inputs ('measured') and with the
  surrogate's ('as_unmeasured'); the m adapting samples come from the other networks."""
  space = predictor.space
  if not 0 < held_fraction < 1:
    raise ValueError(f"held_fraction must lie in (0, 1), got {held_fraction}")
  truth = load_latency_table(space.name, predictor.data_dir).latency_ms(hw).astype(np.float64)
  rng = np.random.default_rng(seed)
  order = rng.permutation(space.num_archs)
  cut = int(held_fraction * space.num_archs)
  held, rest = np.sort(order[:cut]), np.sort(order[cut:])
  picks = rng.choice(rest, num_samples, replace=False)
  t0 = time.time()
  adapted = predictor.adapt(hw, [space.arch_names[i] for i in picks], truth[picks], seed=seed)
  adapt_s = time.time() - t0
  ens = adapted.adapted[hw]
  basis = adapted.stack_basis() if ens.stack is not None else None
  out = {"device": hw, "num_samples": num_samples, "held_out": len(held), "seed": seed,
         "adapt_s": round(adapt_s, 2)}
  for name, measured in (("measured", None), ("as_unmeasured", rest)):
    fn, variables = pure.ensemble_fn(adapted.model, space, adapted.supp_AxD, ens, basis,
                                     measured=measured)
    pred = np.asarray(jax.jit(fn)(variables, space.op_ids_AxS[held]), np.float64)
    scores = metrics.evaluate(pred, truth[held], space.disconnected_A[held])
    out[name] = {k: scores[k] for k in METRICS}
  return out


def markdown(rows: list[dict]) -> str:
  lines = ["| device | m | held-out networks | Spearman (measured / as unmeasured) | "
           "within ±10 % (%) | median abs. error (%) |", "|---|---|---|---|---|---|"]
  for r in rows:
    a, b = r["measured"], r["as_unmeasured"]
    lines.append(f"| {r['device']} | {r['num_samples']} | {r['held_out']} | "
                 f"{a['spearman']:.3f} / {b['spearman']:.3f} | "
                 f"{a['within_10pct']:.1f} / {b['within_10pct']:.1f} | "
                 f"{a['median_ape_pct']:.1f} / {b['median_ape_pct']:.1f} |")
  return "\n".join(lines) + "\n"
