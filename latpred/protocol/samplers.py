"""Which architectures to measure (NASFLAT §6). Deterministic for a seed; never duplicates.

Samplers: 'random'; 'flops' / 'params' (sort, split into m equal buckets, one random pick per
bucket); 'latency' (the same on the true target latency: an ORACLE, for study only); 'kmeans'
(k-means with k = m over an encoding, one uniformly random member of each cluster);
'kmeans_centroid' (the same clusters, the member nearest each centroid: the paper's choice);
'cosine' (bucket by mean cosine similarity to all architectures, one pick per bucket);
'kmeans_cosine' (k-means, then in each cluster the architecture most cosine-similar to the rest).

Why 'kmeans' picks at random within clusters: trials must be independent draws. With the
nearest-to-centroid rule, seeds converge to much the same clusters and the same architectures:
three trials' 20 k-means picks shared 6.7 (NB201, whose encoding has 210 distinct rows) and 5.7
(FBNet) architectures per pair of trials, where random draws share 0.03 and 0.08; the spread over
trials then understates sampling variance. One random member per cluster keeps the coverage of
the encoding and overlaps as random draws do (tests/protocol/samplers_test.py).
"""

from typing import Optional

import numpy as np

SAMPLERS = ("random", "flops", "params", "latency", "kmeans", "kmeans_centroid", "cosine",
            "kmeans_cosine")


def _bucket_pick(values, m, rng):
  order = np.argsort(values, kind="stable")
  return np.array([rng.choice(b) for b in np.array_split(order, m)])


def _kmeans(x, k, rng, iters=30):
  centers = x[rng.choice(len(x), k, replace=False)]
  for _ in range(iters):
    d = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
    assign = d.argmin(1)
    new = np.stack([x[assign == c].mean(0) if np.any(assign == c) else centers[c]
                    for c in range(k)])
    if np.allclose(new, centers):
      break
    centers = new
  return centers, assign


def _unit(x):
  return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def sample(name: str, m: int, seed: int, *, pool: np.ndarray, mflops=None, mparams=None,
           encoding: Optional[np.ndarray] = None, latency=None) -> np.ndarray:
  """Returns m distinct architecture indices drawn from `pool` (int64, in pick order).

  Args:
    name: one of `SAMPLERS`.
    pool: candidate indices. Per-architecture arrays (mflops, mparams, encoding [A, D],
      latency) are indexed by architecture, not by pool position.
  """
  pool = np.asarray(pool, dtype=np.int64)
  if not 1 <= m <= len(pool):
    raise ValueError(f"cannot sample {m} architectures from a pool of {len(pool)}")
  rng = np.random.default_rng(seed)
  if name == "random":
    picks = rng.choice(pool, m, replace=False)
  elif name in ("flops", "params", "latency"):
    values = {"flops": mflops, "params": mparams, "latency": latency}[name]
    if values is None:
      raise ValueError(f"sampler {name!r} needs its per-architecture values")
    picks = pool[_bucket_pick(np.asarray(values)[pool], m, rng)]
  elif name in ("kmeans", "kmeans_centroid", "cosine", "kmeans_cosine"):
    if encoding is None or encoding.shape[1] == 0:
      raise ValueError(f"sampler {name!r} needs a non-empty encoding")
    x = np.asarray(encoding, np.float64)[pool]
    if name == "cosine":
      u = _unit(x)
      sim = u @ u.mean(0)
      picks = pool[_bucket_pick(sim, m, rng)]
    else:
      centers, assign = _kmeans(x, m, rng)
      chosen = []
      for c in range(m):
        members = np.flatnonzero(assign == c)
        members = members[~np.isin(members, chosen)]
        if len(members) == 0:  # empty cluster: the nearest unused architecture
          members = np.setdiff1d(np.arange(len(x)), chosen)
        if name == "kmeans":
          chosen.append(rng.choice(members))
        elif name == "kmeans_centroid":
          d = ((x[members] - centers[c]) ** 2).sum(1)
          chosen.append(members[d.argmin()])
        else:
          u = _unit(x[members])
          chosen.append(members[(u @ u.mean(0)).argmax()])
      picks = pool[np.array(chosen)]
  else:
    raise ValueError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")
  picks = np.asarray(picks, dtype=np.int64)
  assert len(np.unique(picks)) == m, "sampler returned duplicates"
  return picks
