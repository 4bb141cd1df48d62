"""How fast the adapted predictor adapts and predicts, against an arithmetic bound.

  python experiments/throughput.py --pretrained=out/bench_v2_full/nasflat/ND/pretrained \
      --device=titan_rtx_1 --repeats=7 --out=docs/throughput.md

1. Adaptation of a new device from 20 measured architectures after `LatencyPredictor.load`: in a
   fresh process (compilations included: what a user waits for), then again with other samples
   (compiled programs reused).
2. Prediction of every architecture of the space with the adapted ensemble's pure function
   (`predict_fn`, jitted, all rows in one call), median of `--repeats` after a compiling call.
3. The arithmetic bound: the compiled function's floating-point operations (XLA's cost analysis)
   divided by this machine's float32 matmul rate (median of timed 1024x1024 matmuls, a rate the
   GNN's small dense layers can at best approach).
"""

import pathlib
import platform
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred import LatencyPredictor, load_latency_table  # noqa: E402
from latpred.apps import timing  # noqa: E402

_PRETRAINED = flags.DEFINE_string("pretrained", None, "Pretrained checkpoint folder.",
                                  required=True)
_DEVICE = flags.DEFINE_string("device", None, "A device of the space (not a training device) "
                              "whose table latencies stand in for measurements.", required=True)
_SAMPLES = flags.DEFINE_integer("samples", 20, "Measured architectures to adapt from.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Timed repeats.")
_OUT = flags.DEFINE_string("out", None, "Markdown output file.", required=True)


def _median_s(fn, repeats: int) -> float:
  return timing.median_ms(fn, repeats) / 1e3


def matmul_gflops(repeats: int, n: int = 1024) -> float:
  """This machine's float32 matmul rate (GFLOP/s), median over `repeats`."""
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  mm = jax.jit(lambda x: x @ x)
  jax.block_until_ready(mm(a))
  return 2 * n ** 3 / _median_s(lambda: mm(a), repeats) / 1e9


def main(argv):
  del argv
  t0 = time.perf_counter()
  p = LatencyPredictor.load(_PRETRAINED.value)
  load_s = time.perf_counter() - t0
  hw = _DEVICE.value
  truth = load_latency_table(p.space.name).latency_ms(hw)
  rng = np.random.default_rng(0)
  adapt_s = []
  for _ in range(2):  # cold (compiles), then warm (another sample set, same shapes)
    idx = rng.choice(p.space.num_archs, _SAMPLES.value, replace=False)
    t0 = time.perf_counter()
    p = p.adapt(hw, p.space.names_of(p.space.op_ids_AxS[idx]), truth[idx])
    adapt_s.append(time.perf_counter() - t0)
  fn, variables = p.predict_fn(hw)
  ops = jnp.asarray(p.space.op_ids_AxS)
  jitted = jax.jit(fn)
  t0 = time.perf_counter()
  compiled = jitted.lower(variables, ops).compile()
  compile_s = time.perf_counter() - t0
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", float("nan")))
  predict_s = _median_s(lambda: compiled(variables, ops), _REPEATS.value)
  rate = matmul_gflops(_REPEATS.value)
  bound_s = flops / (rate * 1e9)
  members = len(p.members)
  lines = [
      "# Adaptation and prediction speed", "",
      f"Command: `python experiments/throughput.py --pretrained={_PRETRAINED.value} "
      f"--device={hw} --samples={_SAMPLES.value} --repeats={_REPEATS.value} --out={_OUT.value}`; "
      f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.device_count()} device(s), "
      f"{platform.processor() or platform.machine()}). Medians of {_REPEATS.value} timed runs.",
      "", "| what | value |", "|---|---|",
      f"| load the checkpoint ({members} members) | {load_s:.2f} s |",
      f"| adapt from {_SAMPLES.value} samples, fresh process (compilations included) | "
      f"{adapt_s[0]:.2f} s |",
      f"| adapt again (other samples, programs compiled) | {adapt_s[1]:.2f} s |",
      f"| compile the predict function for all {p.space.num_archs} architectures | "
      f"{compile_s:.2f} s |",
      f"| predict all {p.space.num_archs} architectures (ms, {members} members + stack) | "
      f"{predict_s * 1e3:.1f} ms ({p.space.num_archs / predict_s:,.0f} architectures/s) |",
      f"| XLA cost analysis of that call | {flops / 1e9:.2f} GFLOP |",
      f"| float32 matmul rate of this machine (1024x1024) | {rate:.1f} GFLOP/s |",
      f"| arithmetic bound (GFLOP / rate) | {bound_s * 1e3:.1f} ms |",
      f"| measured / bound | {predict_s / bound_s:.2f} |", ""]
  pathlib.Path(_OUT.value).write_text("\n".join(lines))
  print("\n".join(lines))


if __name__ == "__main__":
  app.run(main)
