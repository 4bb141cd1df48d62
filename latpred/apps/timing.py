"""Timing flax networks on the local JAX backend: compile outside the timing, then time rounds
of calls, each waited for with `block_until_ready` (JAX dispatches asynchronously: without it a
timer measures only the dispatch).

A group of networks is compiled first and then timed in `rounds` passes; in each pass every
network (in a new random order) gets `warmup` untimed calls and `repeats` timed ones. The speed
of a shared machine drifts over seconds to minutes (on the 2-core CPU the median of 20
back-to-back calls moved by 10-15 % from one second to the next, and two runs of the same
networks one after another differed by up to 40 %: docs/measure.md), so a network's calls are
spread over the whole group's timing instead of being taken at one moment, and every network of
the group sees the same drift.

Latency = the median of the round medians, in milliseconds (docs/measure.md compares it with the
lowest round median, which two pairs of runs found less repeatable); `Timing.uncertainty` is a
robust standard error of it, relative to it (`robust_uncertainty`).
"""

import dataclasses
import time
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Settings:
  batch: int = 1
  warmup: int = 2  # untimed calls before each round's timed calls of a network
  repeats: int = 10  # timed calls per network and round
  rounds: int = 20  # passes over the group

  def __post_init__(self):
    for name in ("batch", "repeats", "rounds"):
      if getattr(self, name) < 1:
        raise ValueError(f"timing {name} must be at least 1, got {getattr(self, name)}")
    if self.warmup < 0:
      raise ValueError(f"timing warmup must be at least 0, got {self.warmup}")


@dataclasses.dataclass(frozen=True)
class Timing:
  latency_ms: float  # the median of the round medians
  q25_ms: float  # quartiles of every timed call
  q75_ms: float
  round_ms: tuple[float, ...]  # median of each round
  compile_s: float  # lowering + compilation, never part of latency_ms

  @property
  def uncertainty(self) -> float:
    return robust_uncertainty(self.round_ms)

  def as_dict(self) -> dict:
    out = dataclasses.asdict(self)
    out["round_ms"] = list(self.round_ms)
    out["uncertainty"] = self.uncertainty
    return out


def robust_uncertainty(round_ms: Sequence[float]) -> float:
  """Standard error of the median of the round medians, relative to it (0 with one round):
  1.253 * sigma / sqrt(rounds), sigma = 1.4826 * their median absolute deviation, so that one
  disturbed round (the first after compiling a group often takes 1.5-2x) does not dominate."""
  x = np.asarray(round_ms, np.float64)
  if len(x) < 2:
    return 0.0
  median = np.median(x)
  sigma = 1.4826 * np.median(np.abs(x - median))
  return float(1.2533 * sigma / np.sqrt(len(x)) / median)


def summarize(rounds_ms: Sequence[Sequence[float]], compile_s: float) -> Timing:
  """A network's Timing from its timed calls, [rounds][repeats] in ms."""
  medians = tuple(float(np.median(r)) for r in rounds_ms)
  q25, q75 = np.percentile(np.concatenate([np.asarray(r) for r in rounds_ms]), [25, 75])
  return Timing(float(np.median(medians)), float(q25), float(q75), medians, compile_s)


def random_variables(model: nn.Module, input_shape, seed: int = 0):
  """Variables of the right shapes without running (or compiling) `model.init`: He-normal
  kernels, zero biases and means, unit scales and variances, on the host."""
  shapes = jax.eval_shape(model.init, jax.random.key(0),
                          jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = getattr(path[-1], "key", "")
    if name == "kernel":
      fan_in = int(np.prod(leaf.shape[:-1]))
      return (rng.standard_normal(leaf.shape) * np.sqrt(2.0 / fan_in)).astype(leaf.dtype)
    if name in ("scale", "var"):
      return np.ones(leaf.shape, leaf.dtype)
    return np.zeros(leaf.shape, leaf.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def prepare(model: nn.Module, image_shape, batch: int, seed: int = 0):
  """(call, compile_s): `call()` runs the compiled network once on a batch of random images of
  `image_shape` (H, W, C) held on the default device with its variables."""
  shape = (batch, *image_shape)
  variables = jax.device_put(random_variables(model, shape, seed))
  images = jax.device_put(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
  start = time.perf_counter()
  compiled = jax.jit(model.apply).lower(variables, images).compile()
  return (lambda: compiled(variables, images)), time.perf_counter() - start


def time_calls(calls: Sequence[Callable[[], object]], settings: Settings, seed: int = 0,
               clock: Callable[[], float] = time.perf_counter,
               on_round: Callable[[int], None] = lambda r: None) -> list[list[list[float]]]:
  """Milliseconds of each timed call, [network][round][repeat]: `settings.rounds` passes over
  `calls` in a new random order each, `warmup` untimed then `repeats` timed calls per network
  and pass. `on_round(r)` is called after pass r (1-based)."""
  rng = np.random.default_rng(seed)
  out = [[[] for _ in range(settings.rounds)] for _ in calls]
  for r in range(settings.rounds):
    for i in rng.permutation(len(calls)):
      for _ in range(settings.warmup):
        jax.block_until_ready(calls[i]())
      for _ in range(settings.repeats):
        start = clock()
        jax.block_until_ready(calls[i]())
        out[i][r].append((clock() - start) * 1e3)
    on_round(r + 1)
  return out


def median_ms(call: Callable[[], object], repeats: int, warmup: int = 1) -> float:
  """Median milliseconds of `repeats` timed calls of one computation after `warmup` untimed
  ones (compilation): `time_calls` with a single round."""
  rounds = time_calls([call], Settings(warmup=warmup, repeats=repeats, rounds=1))
  return float(np.median(rounds[0][0]))


def time_networks(builds: Sequence[tuple[nn.Module, tuple]], settings: Settings, seed: int = 0,
                  log: Callable[[str], None] = lambda s: None) -> list[Timing]:
  """Compiles every (model, image shape) of a group, then times them together (module doc)."""
  calls, compile_s = [], []
  for k, (model, image_shape) in enumerate(builds, start=1):
    call, seconds = prepare(model, image_shape, settings.batch, seed)
    calls.append(call)
    compile_s.append(seconds)
    if k % 10 == 0 or k == len(builds):
      log(f"  compiled {k}/{len(builds)} ({sum(compile_s):.0f} s)")
  start = time.perf_counter()

  def on_round(r):
    spent = time.perf_counter() - start
    log(f"  timed round {r}/{settings.rounds} ({spent:.0f} s, about "
        f"{spent / r * (settings.rounds - r):.0f} s to go in this group)")

  rounds = time_calls(calls, settings, seed, on_round=on_round)
  return [summarize(r, c) for r, c in zip(rounds, compile_s)]
