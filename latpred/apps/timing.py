"""Timing a flax network on the local JAX backend: compile outside the timing, warm up, then
time repeated calls, each waited for with `block_until_ready` (JAX dispatches asynchronously:
without it a timer measures only the dispatch).

The latency of a network is the median of `rounds` x `repeats` timed calls, in milliseconds.
Rounds are timed one after another; their medians disagree when the machine's load changes
during the measurement, which `Timing.disagreement` reports ((max - min) / median of the round
medians) so that a caller can retry or refuse a noisy measurement.
"""

import dataclasses
import time
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Settings:
  batch: int = 1
  warmup: int = 5  # untimed calls after compilation
  repeats: int = 20  # timed calls per round
  rounds: int = 3

  def __post_init__(self):
    for name in ("batch", "repeats", "rounds"):
      if getattr(self, name) < 1:
        raise ValueError(f"timing {name} must be at least 1, got {getattr(self, name)}")
    if self.warmup < 0:
      raise ValueError(f"timing warmup must be at least 0, got {self.warmup}")


@dataclasses.dataclass(frozen=True)
class Timing:
  latency_ms: float  # median over every timed call
  q25_ms: float
  q75_ms: float
  round_ms: tuple[float, ...]  # median of each round
  compile_s: float  # lowering + compilation, not timed in latency_ms

  @property
  def disagreement(self) -> float:
    """(max - min) / median of the round medians: 0 when the rounds agree."""
    return (max(self.round_ms) - min(self.round_ms)) / float(np.median(self.round_ms))

  def as_dict(self) -> dict:
    out = dataclasses.asdict(self)
    out["round_ms"] = list(self.round_ms)
    out["disagreement"] = self.disagreement
    return out


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


def time_calls(call: Callable[[], object], settings: Settings,
               clock: Callable[[], float] = time.perf_counter) -> list[list[float]]:
  """Milliseconds of each timed call, [rounds][repeats], after `settings.warmup` untimed calls.
  `call` runs the computation once; its result is waited for with `block_until_ready`."""
  for _ in range(settings.warmup):
    jax.block_until_ready(call())
  rounds = []
  for _ in range(settings.rounds):
    times = []
    for _ in range(settings.repeats):
      start = clock()
      jax.block_until_ready(call())
      times.append((clock() - start) * 1e3)
    rounds.append(times)
  return rounds


def time_network(model: nn.Module, image_shape, settings: Settings, seed: int = 0) -> Timing:
  """Times `model.apply` on a batch of `settings.batch` random images of `image_shape` (H, W, C)
  on the default device."""
  shape = (settings.batch, *image_shape)
  variables = jax.device_put(random_variables(model, shape, seed))
  images = jax.device_put(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
  start = time.perf_counter()
  compiled = jax.jit(model.apply).lower(variables, images).compile()
  compile_s = time.perf_counter() - start
  rounds = time_calls(lambda: compiled(variables, images), settings)
  every = np.concatenate(rounds)
  q25, median, q75 = np.percentile(every, [25, 50, 75])
  return Timing(float(median), float(q25), float(q75),
                tuple(float(np.median(r)) for r in rounds), compile_s)
