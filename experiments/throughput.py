"""How fast the adapted predictor adapts and predicts, against an arithmetic bound.

  python experiments/throughput.py --pretrained=out/bench_v2_full/nasflat/ND/pretrained \
      --device=titan_rtx_1 --repeats=7 --out=docs/throughput.md

1. Adaptation of a new device from 20 measured architectures after `LatencyPredictor.load`: in a
   fresh process (compilations included: what a user waits for), then again with other samples
   (compiled programs reused); medians over `--fresh_processes` new processes (this script run
   with `--adapt_only`), since the shared CPU's speed drifts between runs. The fresh processes
   run twice: with nothing cached (LATPRED_COMPILATION_CACHE=off: a first run on a machine),
   then with latpred's compilation cache in a new folder that the first of them fills (what the
   launchers do: `latpred.protocol.launch.enable_compilation_cache`); a JAX_COMPILATION_CACHE_DIR
   of yours is not passed to them (it would make "nothing cached" untrue; unset it for the
   script's own process, whose first adaptation joins that row).
2. Prediction of every architecture of the space with the adapted ensemble's pure function
   (`predict_fn`, jitted, all rows in one call) after a compiling call: with its default steps
   (`latpred.spaces.graphs.cache_batch`), median of the `--repeats` rounds of point 3, and in
   one step (`chunk=0`), median of `--repeats` calls.
3. The arithmetic bound: the one-step function's floating-point operations (XLA's cost analysis,
   which counts a loop's body once, so not the stepped program's count) divided by this
   machine's float32 matmul rate (median of timed 1024x1024 matmuls, a rate the
   GNN's small dense layers can at best approach). The rate is measured in the same rounds as
   the prediction (each of `--repeats` rounds: one predict call, then 5 matmuls), and measured
   / bound is the median of the rounds' ratios: this shared VM's speed moves by 20-40 % within
   minutes (session 19 read 149 and 192 GFLOP/s in two runs ten minutes apart), and a rate read
   once, apart from the prediction, moved the ratio by that much.
"""

import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred import LatencyPredictor, load_latency_table  # noqa: E402
from latpred.apps import timing  # noqa: E402
from latpred.protocol import launch  # noqa: E402
from latpred.spaces import graphs  # noqa: E402

_PRETRAINED = flags.DEFINE_string("pretrained", None, "Pretrained checkpoint folder.",
                                  required=True)
_DEVICE = flags.DEFINE_string("device", None, "A device of the space (not a training device) "
                              "whose table latencies stand in for measurements.", required=True)
_SAMPLES = flags.DEFINE_integer("samples", 20, "Measured architectures to adapt from.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Timed repeats.")
_OUT = flags.DEFINE_string("out", None, "Markdown output file (required unless --adapt_only).")
_FRESH = flags.DEFINE_integer("fresh_processes", 3, "New processes that each load and adapt "
                              "twice (the medians are reported).")
_ADAPT_ONLY = flags.DEFINE_bool("adapt_only", False, "Only load and adapt twice; print the times "
                                "as JSON (what each of --fresh_processes runs).")


def _median_s(fn, repeats: int) -> float:
  return timing.median_ms(fn, repeats) / 1e3


def matmul_gflops(repeats: int, n: int = 1024) -> float:
  """This machine's float32 matmul rate (GFLOP/s), median over `repeats`."""
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  mm = jax.jit(lambda x: x @ x)
  jax.block_until_ready(mm(a))
  return 2 * n ** 3 / _median_s(lambda: mm(a), repeats) / 1e9


def paired_rounds(predict, rounds: int) -> tuple:
  """(predict s, matmul GFLOP/s) per round, two float arrays [rounds]: each round times one
  `predict` call, then this machine's matmul rate (`matmul_gflops`, 5 matmuls), so that each
  predict time has a rate read at the same moment (`predict` compiled and warm)."""
  predict_s, rate = [], []
  for _ in range(rounds):
    t0 = time.perf_counter()
    jax.block_until_ready(predict())
    predict_s.append(time.perf_counter() - t0)
    rate.append(matmul_gflops(5))
  return np.asarray(predict_s), np.asarray(rate)


def load_and_adapt():
  """(predictor adapted twice, load s, [first adapt s, second adapt s]) in this process."""
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
  return p, load_s, adapt_s


def fresh_processes(count: int, cache_dir: str = "") -> list[dict]:
  """`load_and_adapt`'s times in `count` new processes, one after the other, with latpred's
  compilation cache in `cache_dir` ('': off)."""
  args = [sys.executable, __file__, f"--pretrained={_PRETRAINED.value}",
          f"--device={_DEVICE.value}", f"--samples={_SAMPLES.value}", "--adapt_only"]
  env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}  # none but ours
  env[launch.CACHE_ENV] = cache_dir or "off"
  out = []
  for k in range(count):
    run = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"fresh process {k + 1}/{count} (cache {cache_dir or 'off'}): {out[-1]}", flush=True)
  return out


def main(argv):
  del argv
  if _ADAPT_ONLY.value:
    launch.enable_compilation_cache()
    _, load_s, adapt_s = load_and_adapt()
    print(json.dumps({"load_s": load_s, "adapt_s": adapt_s}))
    return
  if not _OUT.value:
    raise app.UsageError("--out is required")
  fresh = fresh_processes(_FRESH.value)
  with tempfile.TemporaryDirectory() as cache:
    cached = fresh_processes(_FRESH.value + 1, cache)[1:]  # the first one fills the cache
  p, load_s, adapt_s = load_and_adapt()
  hw = _DEVICE.value
  ops = jnp.asarray(p.space.op_ids_AxS)
  chunk = graphs.cache_batch(p.space.graph_set.num_nodes)
  compile_s, _, stepped, variables = time_predict(p, hw, ops, None, 1)  # timed in the rounds
  _, one_step_s, one_step, _ = time_predict(p, hw, ops, 0, _REPEATS.value)
  # XLA's cost analysis counts a loop's body once: the FLOPs come from the one-step program
  cost = one_step.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", float("nan")))
  predict_r, rate_r = paired_rounds(lambda: stepped(variables, ops), _REPEATS.value)
  predict_s, rate = float(np.median(predict_r)), float(np.median(rate_r))
  ratios = predict_r * rate_r * 1e9 / flops  # each round's predict time over its own bound
  ratio = float(np.median(ratios))
  bound_s = flops / (rate * 1e9)
  members = len(p.members)
  lines = [
      "# Adaptation and prediction speed", "",
      f"Command: `python experiments/throughput.py --pretrained={_PRETRAINED.value} "
      f"--device={hw} --samples={_SAMPLES.value} --repeats={_REPEATS.value} "
      f"--fresh_processes={_FRESH.value} --out={_OUT.value}`; "
      f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.device_count()} device(s), "
      f"{platform.processor() or platform.machine()}). Load and adaptation: each process's "
      f"times, then the median; prediction: medians of {_REPEATS.value} timed runs (rounds, for "
      f"the stepped call: each with its own matmul rate).",
      "", "| what | each process | median |", "|---|---|---|",
      _row(f"load the checkpoint ({members} members)", [r["load_s"] for r in fresh] + [load_s]),
      _row(f"adapt from {_SAMPLES.value} samples, fresh process (compilations included)",
           [r["adapt_s"][0] for r in fresh] + [adapt_s[0]]),
      _row(f"adapt from {_SAMPLES.value} samples, fresh process, programs in latpred's "
           "compilation cache", [r["adapt_s"][0] for r in cached]),
      _row("adapt again (other samples, programs compiled)",
           [r["adapt_s"][1] for r in fresh] + [adapt_s[1]]),
      f"| compile the predict function for all {p.space.num_archs} architectures | | "
      f"{compile_s:.2f} s |",
      f"| predict all {p.space.num_archs} architectures (ms, {members} members + stack; steps "
      f"of {chunk or 'all'}) | | {predict_s * 1e3:.1f} ms "
      f"({p.space.num_archs / predict_s:,.0f} architectures/s) |",
      f"| the same in one step (`chunk=0`) | | {one_step_s * 1e3:.1f} ms |",
      f"| XLA cost analysis of the one-step call | | {flops / 1e9:.2f} GFLOP |",
      f"| float32 matmul rate of this machine (1024x1024; each round's, median) | "
      f"{', '.join(f'{r:.0f}' for r in rate_r)} | {rate:.1f} GFLOP/s |",
      f"| arithmetic bound (GFLOP / median rate) | | {bound_s * 1e3:.1f} ms |",
      f"| measured / bound (each round's predict time over its own bound) | "
      f"{', '.join(f'{x:.2f}' for x in ratios)} | {ratio:.2f} |", ""]
  pathlib.Path(_OUT.value).write_text("\n".join(lines))
  print("\n".join(lines))


def time_predict(p, hw: str, ops, chunk, repeats: int) -> tuple:
  """(compile s, median predict s of `repeats` calls after a warm-up, compiled, variables) of
  `p.predict_fn(hw, chunk=chunk)` jitted, on `ops`."""
  fn, variables = p.predict_fn(hw, chunk=chunk)
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(variables, ops).compile()
  compile_s = time.perf_counter() - t0
  return (compile_s, _median_s(lambda: compiled(variables, ops), repeats), compiled, variables)


def _row(what: str, seconds: list) -> str:
  each = ", ".join(f"{s:.1f}" for s in seconds)
  return f"| {what} | {each} s | {np.median(seconds):.2f} s |"


if __name__ == "__main__":
  app.run(main)
