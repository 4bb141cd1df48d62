"""HELP baseline (Lee et al., NeurIPS 2021) in JAX: a latency predictor conditioned on a hardware
embedding and meta-learned over the training devices (Meta-SGD), adapted to a target in 2 steps.

- Hardware embedding: the device's latencies on HELP's 10 reference architectures
  (help/<space>/hardware_embedding_index.pt), min-max normalised to [0, 1]. A target device is
  embedded the same way, so HELP reads 10 measurements of the target beyond its m samples.
- Predictor (HELP's net.py): NB201: 4 GCN layers of width 100 over the op-on-node cell graph with
  a global node that every node feeds (8 input features: 7 node types + global), read out at the
  global node; FBNet: 2 dense layers on HELP's 132-d encoding (per layer [k3, k5, e1, e1_g2, e3,
  e6], skip = zeros). Either way concatenated with a 2-layer embedding of the hardware vector,
  then 3 dense layers to one output.
- Targets: latency min-max normalised to [0.05, 0.95] per device (over the device's meta-training
  pool; for a target under latpred's protocol, over its m samples).
- Meta-training (HELP's defaults): EPISODES episodes of TASKS_PER_EPISODE training devices; per
  device INNER_STEPS SGD steps on SUPPORT samples with learned per-parameter rates (init 1e-3),
  then the MSE on QUERY other samples; Adam (META_LR) on parameters and rates, second order. The
  tasks of an episode run as one vmapped program. The pool of a training device is HELP's:
  architectures [0, POOL) with the 10 % fastest and slowest removed.
- Test time: the same INNER_STEPS steps on the target's samples with the learned rates.

Not reproduced: HELP's z-modulator inference network (a KL-regularised perturbation of the last
three layers, z_scaling 0.01, averaged over 10 Monte-Carlo draws), and the checkpoint choice by the
best correlation on meta-validation devices (latpred's tasks have none; the last episode is used).
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from latpred import metrics
from latpred.data import load_latency_table, tables
from latpred.spaces import fbnet, load_space, nb201
from latpred.spaces import graphs as graphs_lib

HIDDEN, GCN_LAYERS = 100, 4
EPISODES, TASKS_PER_EPISODE, SUPPORT, QUERY, INNER_STEPS = 2000, 8, 10, 200, 2
META_LR, INNER_LR_INIT = 1e-4, 1e-3
POOL = {"nb201": 900, "fbnet": 4000}  # HELP's meta-training pool: architectures [0, POOL)
QUERY_RANGE = {"nb201": (900, 1900), "fbnet": (4000, 5000)}  # HELP's test queries
TRIM = 0.1  # HELP drops the 10 % fastest and slowest of its pool and of its query set


# --- encodings and normalisation ----------------------------------------------------------------

def fbnet_encoding(op_ids_Ax22) -> np.ndarray:
  """HELP's 132-d FBNet encoding, float32 [A, 132]: per layer 6 slots (kernel 3, kernel 5,
  expansion 1, 1 grouped, 3, 6); the skip op (id 8) is all zeros."""
  ops = np.asarray(op_ids_Ax22)
  out = np.zeros(ops.shape + (6,), np.float32)
  real = ops < 8
  a, l = np.nonzero(real)
  out[a, l, ops[real] // 4] = 1.0  # ids 0-3 are kernel 3, 4-7 kernel 5
  out[a, l, 2 + ops[real] % 4] = 1.0
  return out.reshape(len(ops), -1)


def nb201_inputs(graph_set, num_node_types: int):
  """(features float32 [A, N+1, T+1], adjacency float32 [A, N+1, N+1]) of HELP's GCN: one-hot
  node types plus a global node (last) that every node feeds; row r of the adjacency sums node
  r's predecessors and itself."""
  a, n = graph_set.node_types_AxN.shape
  feats = np.zeros((a, n + 1, num_node_types + 1), np.float32)
  feats[np.arange(a)[:, None], np.arange(n)[None], graph_set.node_types_AxN] = 1.0
  feats[:, n, num_node_types] = 1.0
  adj = np.zeros((a, n + 1, n + 1), np.float32)
  rows = np.repeat(np.arange(a), graph_set.senders_AxE.shape[1])
  m = graph_set.edge_mask_AxE.reshape(-1)
  adj[rows[m], graph_set.receivers_AxE.reshape(-1)[m], graph_set.senders_AxE.reshape(-1)[m]] = 1
  adj[:, n, :] = 1.0
  adj[:, np.arange(n + 1), np.arange(n + 1)] = 1.0
  return feats, adj


@functools.lru_cache(maxsize=4)
def space_inputs(space):
  """The HELP predictor's per-architecture input for every architecture of `space` (cached per
  space object; read-only arrays)."""
  if space.name == "fbnet":
    out = (fbnet_encoding(np.stack([fbnet.parse(a) for a in space.arch_names])),)
  elif space.name == "nb201":  # HELP's full cell graph, whatever the space's graph variant
    full = graphs_lib.build_graph_set([nb201.graph(nb201.parse(a)) for a in space.arch_names])
    out = nb201_inputs(full, len(nb201.NODE_TYPES))
  else:
    raise ValueError(f"HELP has no predictor for space {space.name!r}")
  for arr in out:
    arr.setflags(write=False)
  return out if space.name == "nb201" else out[0]


def _minmax(latency_ms, reference_ms) -> np.ndarray:
  """`latency_ms` min-max scaled by `reference_ms` (its min -> 0, its max -> 1), float64."""
  ref = np.asarray(reference_ms, np.float64)
  spread = ref.max() - ref.min()
  if not spread > 0:
    raise ValueError("the reference latencies are all equal; cannot scale by them")
  return (np.asarray(latency_ms, np.float64) - ref.min()) / spread


def hw_embedding(reference_latency_ms) -> np.ndarray:
  """A device's latencies on the 10 reference architectures, min-max normalised to [0, 1]."""
  return _minmax(reference_latency_ms, reference_latency_ms).astype(np.float32)


def normalise(latency_ms, reference_ms) -> np.ndarray:
  """HELP's label scale: min-max over `reference_ms` mapped to [0.05, 0.95]."""
  return (_minmax(latency_ms, reference_ms) * 0.9 + 0.05).astype(np.float32)


def denormalise(pred_norm, reference_ms) -> np.ndarray:
  """Milliseconds from HELP's label scale (the inverse of `normalise` over the same reference)."""
  ref = np.asarray(reference_ms, np.float64)
  return (np.asarray(pred_norm, np.float64) - 0.05) / 0.9 * (ref.max() - ref.min()) + ref.min()


def trimmed(latency_A, idx) -> np.ndarray:
  """HELP's outlier removal: `idx` less its TRIM fastest and TRIM slowest, by latency order."""
  idx = np.asarray(idx)
  order = idx[np.argsort(np.asarray(latency_A)[idx], kind="stable")]
  return order[int(len(idx) * TRIM):int(len(idx) * (1 - TRIM))]


def reference_indices(space_name: str, data_dir=None) -> np.ndarray:
  return tables.load_help_reference_indices(space_name, data_dir)


# --- the predictor (pure functions of a parameter dict) -----------------------------------------

def _dense(key, fan_in, fan_out):
  """PyTorch's default Linear init: U(+-1/sqrt(fan_in)) for weights and bias."""
  bound = 1.0 / np.sqrt(fan_in)
  kw, kb = jax.random.split(key)
  return {"w": jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound),
          "b": jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound)}


def init_params(key, space_name: str, feat_dim: int, hw_dim: int = 10, hidden: int = HIDDEN):
  keys = iter(jax.random.split(key, 16))
  p = {}
  if space_name == "nb201":
    for i in range(GCN_LAYERS):
      bound = 1.0 / np.sqrt(hidden)
      p[f"gc{i + 1}"] = {  # HELP: weights U(+-0.05), bias U(+-1/sqrt(out))
          "w": jax.random.uniform(next(keys), (feat_dim if i == 0 else hidden, hidden),
                                  jnp.float32, -0.05, 0.05),
          "b": jax.random.uniform(next(keys), (hidden,), jnp.float32, -bound, bound)}
  else:
    p["fc1"] = _dense(next(keys), feat_dim, hidden)
    p["fc2"] = _dense(next(keys), hidden, hidden)
  p["fc_hw1"] = _dense(next(keys), hw_dim, hidden)
  p["fc_hw2"] = _dense(next(keys), hidden, hidden)
  p["fc3"] = _dense(next(keys), 2 * hidden, 2 * hidden)
  p["fc4"] = _dense(next(keys), 2 * hidden, 2 * hidden)
  p["fc5"] = _dense(next(keys), 2 * hidden, 1)
  return p


def _lin(p, x):
  y = x @ p["w"]
  return y + jnp.broadcast_to(p["b"], y.shape)  # explicit: x is [D] or [B, D]


def apply(params, x, hw_embed_D) -> jnp.ndarray:
  """Normalised latency [B] of a batch: x is (feats [B,N,F], adj [B,N,N]) for the GCN, or an
  encoding [B, F] for the MLP; hw_embed_D is the device's embedding."""
  if "gc1" in params:
    h, adj = x
    for i in range(GCN_LAYERS):
      p = params[f"gc{i + 1}"]
      h = jax.nn.relu(jnp.einsum("bij,bjf->bif", adj, h @ p["w"]) + p["b"][None, None])
    h = h[:, -1]  # the global node
  else:
    h = jax.nn.relu(_lin(params["fc2"], jax.nn.relu(_lin(params["fc1"], x))))
  hw = jax.nn.relu(_lin(params["fc_hw2"], jax.nn.relu(_lin(params["fc_hw1"], hw_embed_D))))
  h = jnp.concatenate([h, jnp.broadcast_to(hw, (h.shape[0], hw.shape[0]))], -1)
  h = jax.nn.relu(_lin(params["fc4"], jax.nn.relu(_lin(params["fc3"], h))))
  return _lin(params["fc5"], h)[:, 0]


def _mse(params, x, hw, y):
  return jnp.mean((apply(params, x, hw) - y) ** 2)


def inner_adapt(params, lrs, x, hw, y, steps: int = INNER_STEPS):
  """Meta-SGD: `steps` gradient steps with per-parameter rates `lrs` (differentiable)."""
  for _ in range(steps):
    grads = jax.grad(_mse)(params, x, hw, y)
    params = jax.tree_util.tree_map(lambda p, a, g: p - a * g, params, lrs, grads)
  return params


def _take(x, idx):
  return jax.tree_util.tree_map(lambda a: a[idx], x)


def _meta_loss(meta, x_all, y_HxA, hw_HxD, hw_T, support_TxS, query_TxQ):
  """Mean query MSE over the episode's tasks after the inner adaptation (vmapped over tasks)."""
  params, lrs = meta

  def one(h, s, q):
    adapted = inner_adapt(params, lrs, _take(x_all, s), hw_HxD[h], y_HxA[h, s])
    return _mse(adapted, _take(x_all, q), hw_HxD[h], y_HxA[h, q])

  return jnp.mean(jax.vmap(one)(hw_T, support_TxS, query_TxQ))


_META_OPT = optax.adam(META_LR)  # one object: the jitted step takes it as a static argument


@functools.partial(jax.jit, static_argnums=0)
def _meta_step(opt, meta, state, x_all, y_HxA, hw_HxD, hw_T, support_TxS, query_TxQ):
  loss, grads = jax.value_and_grad(_meta_loss)(meta, x_all, y_HxA, hw_HxD, hw_T, support_TxS,
                                               query_TxQ)
  updates, state = opt.update(grads, state, meta)
  return optax.apply_updates(meta, updates), state, loss


def pools(latency_HxA, train_ids, space_name: str) -> list[np.ndarray]:
  """HELP's meta-training pool of every training device (trimmed [0, POOL))."""
  first = np.arange(min(POOL[space_name], latency_HxA.shape[1]))
  return [trimmed(latency_HxA[h], first) for h in train_ids]


def init_meta(space_name: str, x_all, seed: int, hw_dim: int = 10):
  """(params, inner rates) before meta-training; rates start at INNER_LR_INIT."""
  feat_dim = (x_all[0] if isinstance(x_all, tuple) else x_all).shape[-1]
  params = init_params(jax.random.PRNGKey(seed), space_name, feat_dim, hw_dim)
  return params, jax.tree_util.tree_map(lambda p: jnp.full_like(p, INNER_LR_INIT), params)


def meta_train(space_name: str, x_all, latency_HxA, train_ids, ref_idx, seed: int,
               episodes: int = EPISODES, log=None):
  """(params, inner rates) meta-learned over `train_ids`; `log(msg)` gets progress lines."""
  rng = np.random.default_rng(seed)
  train_ids = np.asarray(train_ids)
  pool = pools(latency_HxA, train_ids, space_name)
  need = SUPPORT + QUERY
  if min(len(p) for p in pool) < need:
    raise ValueError(f"HELP needs {need} pool architectures per training device")
  y = np.stack([normalise(latency_HxA[h], latency_HxA[h, p]) for h, p in zip(train_ids, pool)])
  hw = np.stack([hw_embedding(latency_HxA[h, ref_idx]) for h in train_ids])
  meta = init_meta(space_name, x_all, seed, hw.shape[1])
  state = _META_OPT.init(meta)
  x_dev = jax.tree_util.tree_map(jnp.asarray, x_all)
  y_dev, hw_dev = jnp.asarray(y), jnp.asarray(hw)
  tasks = min(TASKS_PER_EPISODE, len(train_ids))
  t0 = time.time()
  for ep in range(episodes):
    devs = rng.permutation(len(train_ids))[:tasks]
    draws = np.stack([rng.choice(pool[d], need, replace=False) for d in devs])
    meta, state, loss = _meta_step(_META_OPT, meta, state, x_dev, y_dev, hw_dev,
                                   jnp.asarray(devs), jnp.asarray(draws[:, :SUPPORT]),
                                   jnp.asarray(draws[:, SUPPORT:]))
    if log and (ep + 1) % max(1, episodes // 4) == 0:
      log(f"HELP meta-training episode {ep + 1}/{episodes}: query MSE {float(loss):.4f} "
          f"({time.time() - t0:.0f} s)")
  return meta


_adapt = jax.jit(inner_adapt, static_argnames="steps")
_apply = jax.jit(apply)


def adapt_predict(meta, x_all, hw_embed_D, picks, y_norm, batch: int = 16384) -> np.ndarray:
  """Normalised predictions for every architecture after the target's inner adaptation on
  `picks` (labels y_norm): adapted once, then applied in chunks of `batch` architectures."""
  params, lrs = meta
  hw = jnp.asarray(hw_embed_D)
  adapted = _adapt(params, lrs, _take(x_all, np.asarray(picks)), hw, jnp.asarray(y_norm))
  num = len(x_all[0]) if isinstance(x_all, tuple) else len(x_all)
  return np.concatenate([
      np.asarray(_apply(adapted, _take(x_all, np.arange(lo, min(lo + batch, num))), hw))
      for lo in range(0, num, batch)])


# --- HELP's own evaluation protocol (the fidelity check) ----------------------------------------

PUBLISHED = {"ND": 0.932, "FD": 0.910}  # HELP's mean per-device SRCC under its protocol


def help_protocol(task, seeds=(0,), data_dir=None, episodes: int = EPISODES, log=None) -> dict:
  """Per-device SRCC under HELP's protocol: meta-train on the task's training devices; for each
  target, adapt on SUPPORT random architectures of its trimmed pool (labels normalised over that
  pool, as HELP does) and score the trimmed query range QUERY_RANGE. One meta-training and one
  draw of samples per seed."""
  space = load_space(task.space, data_dir)
  table = load_latency_table(task.space, data_dir)
  lat = table.latency_ms_HxA.astype(np.float64)
  x_all, ref = space_inputs(space), reference_indices(task.space, data_dir)
  lo, hi = QUERY_RANGE[task.space]
  per_device = {hw: [] for hw in task.test_hw}
  seconds = []
  for seed in seeds:
    t0 = time.time()
    meta = meta_train(task.space, x_all, lat, table.hw_indices(task.train_hw), ref, seed,
                      episodes, log)
    seconds.append(time.time() - t0)
    rng = np.random.default_rng(seed)
    for hw in task.test_hw:
      h = table.hw_index(hw)
      pool = pools(lat, [h], task.space)[0]
      query = trimmed(lat[h], np.arange(lo, hi))
      picks = rng.choice(pool, SUPPORT, replace=False)
      pred = adapt_predict(meta, x_all, hw_embedding(lat[h, ref]), picks,
                           normalise(lat[h, picks], lat[h, pool]))
      per_device[hw].append(metrics.spearman(pred[query], lat[h, query]))
    if log:
      log(f"HELP protocol {task.name} seed {seed}: mean SRCC "
          f"{np.mean([v[-1] for v in per_device.values()]):.3f}")
  means = [float(np.mean(v)) for v in per_device.values()]
  return {"task": task.name, "seeds": list(seeds), "episodes": episodes,
          "per_device": per_device, "mean": float(np.mean(means)),
          "std_over_seeds": float(np.std(np.mean(list(per_device.values()), axis=0))),
          "published": PUBLISHED.get(task.name), "meta_train_s": seconds}
