"""Where the time of predicting all NB201 cells goes: its primitives at the call's shapes.

  python experiments/predict_primitives.py

15,625 graphs x 8 nodes = 125,000 node rows of 128 features (one ensemble member's layer):
the node-wise 128x128 matmul, the gather + segment sum of message passing (15 edges per
graph), the gate's elementwise work, and the float32 matmul rate at other shapes for
comparison (docs/throughput.md). Medians of 7 jitted calls, milliseconds.
"""

import jax
import jax.numpy as jnp
import numpy as np

from latpred.apps import timing

GRAPHS, NODES, WIDTH, EDGES = 15625, 8, 128, 15


def bench(f, *args, n=7) -> float:
  f = jax.jit(f)
  return timing.median_ms(lambda: f(*args), n)


def main():
  rows = GRAPHS * NODES
  h = jnp.ones((rows, WIDTH))
  rng = np.random.default_rng(0)
  senders = jnp.asarray(rng.integers(0, rows, GRAPHS * EDGES))
  receivers = jnp.sort(jnp.asarray(rng.integers(0, rows, GRAPHS * EDGES)))
  for n in (128, 384):
    ms = bench(lambda h, w: h @ w, h, jnp.ones((WIDTH, n)))
    print(f"node-wise matmul 128x{n}: {ms:.1f} ms = {rows * WIDTH * n * 2 / ms / 1e6:.0f} GFLOP/s")
  ms = bench(lambda h: jax.ops.segment_sum(h[senders], receivers, num_segments=rows), h)
  print(f"gather + segment_sum: {ms:.1f} ms")
  ms = bench(lambda h: jax.nn.sigmoid(h) * h + h, h)
  print(f"gate (elementwise): {ms:.1f} ms")
  a = jnp.ones((1024, 1024))
  ms = bench(lambda a: a @ a, a)
  print(f"1024x1024 matmul: {ms:.1f} ms = {2 * 1024 ** 3 / ms / 1e6:.0f} GFLOP/s")


if __name__ == "__main__":
  main()
