"""Latency-constrained regularized evolution with a stand-in accuracy oracle."""

import jax
import numpy as np
import pytest

from latpred.apps import search
from latpred.data import load_latency_table
from latpred.predict import LatencyPredictor
from latpred.spaces import load_space


def params_proxy(space):
  """STAND-IN accuracy oracle for tests: parameter count (not an accuracy)."""
  lookup = dict(zip(space.arch_names, space.mparams_A))
  calls = []

  def oracle(names):
    calls.extend(names)
    return [lookup[n] for n in names]
  return oracle, calls


def by_ops(space, values_A):
  """op ids [n, S] -> values_A of those (measured) architectures."""
  index = {row.tobytes(): i for i, row in enumerate(space.op_ids_AxS)}
  return lambda ops: values_A[[index[np.asarray(r, np.int32).tobytes()] for r in ops]]


@pytest.fixture(scope="module")
def nb(data_dir):
  return load_space("nb201", data_dir)


def test_evolution_respects_the_budget_and_improves(nb, data_dir):
  true_ms = load_latency_table("nb201", data_dir).latency_ms("raspi4").astype(np.float64)
  budget = float(np.quantile(true_ms, 0.3))
  oracle, calls = params_proxy(nb)
  res = search.regularized_evolution(nb, by_ops(nb, true_ms), oracle, budget, population=20,
                                     sample_size=5, cycles=150, seed=1)
  assert all(ms <= budget for _, _, ms in res.history)
  assert len(calls) == len(set(calls)) == res.accuracy_calls  # one call per architecture
  feasible = nb.mparams_A[true_ms <= budget]
  assert res.best[0][1] >= np.quantile(feasible, 0.99)  # near the best feasible proxy value
  assert [b[1] for b in res.best] == sorted((b[1] for b in res.best), reverse=True)
  again = search.regularized_evolution(nb, by_ops(nb, true_ms), params_proxy(nb)[0], budget,
                                       population=20, sample_size=5, cycles=150, seed=1)
  assert again.best == res.best


def test_mutations_change_one_slot_or_stay_among_measured_fbnet(nb, data_dir):
  rng = np.random.default_rng(0)
  fb = load_space("fbnet", data_dir)
  for space in (nb, fb):
    mutate = search.make_mutation(space)
    for i in (0, 77, 4999):
      row = space.op_ids_AxS[i]
      assert (mutate(row, rng) != row).sum() == 1
  ops = fb.op_ids_AxS
  j = search.make_mutation(fb, measured_only=True)(ops[3], rng)
  dist = (ops != ops[3]).sum(1)
  dist[3] = 99
  assert (ops == j).all(1).any() and (j != ops[3]).sum() == dist.min()


def test_bad_settings_and_impossible_budgets_are_refused(nb):
  oracle, _ = params_proxy(nb)
  with pytest.raises(ValueError, match="positive"):
    search.regularized_evolution(nb, lambda o: np.ones(len(o)), oracle, 0.0)
  with pytest.raises(ValueError, match="sample_size"):
    search.regularized_evolution(nb, lambda o: np.ones(len(o)), oracle, 1.0, population=3,
                                 sample_size=5)
  with pytest.raises(ValueError, match="no architecture"):
    search.regularized_evolution(nb, lambda o: np.full(len(o), 9.0), oracle, 1.0)
  with pytest.raises(ValueError, match="no architecture"):  # NaN counts as over the budget
    search.regularized_evolution(nb, lambda o: np.full(len(o), np.nan), oracle, 1.0)


def test_fbnet_search_covers_unmeasured_networks(data_dir):
  """The whole FBNet space: latency and the stand-in oracle from per-layer FLOPs / params
  (exactly additive), so every network has both."""
  from latpred.adapt import pure
  fb = load_space("fbnet", data_dir)
  w = pure.surrogate_weights(fb.op_ids_AxS, 9, np.column_stack([fb.mflops_A, fb.mparams_A]))
  cost = jax.jit(lambda ops: pure.onehot(ops, 9) @ w)
  budget = float(np.median(fb.mflops_A))
  names = []

  def oracle(batch):
    names.extend(batch)
    return list(np.asarray(cost(fb.op_ids(batch)))[:, 1])
  res = search.regularized_evolution(fb, lambda ops: np.asarray(cost(ops))[:, 0], oracle, budget,
                                     population=20, sample_size=5, cycles=100, seed=0)
  assert all(ms <= budget for _, _, ms in res.history)
  measured = set(fb.arch_names)
  assert sum(n not in measured for n in names) > 0.9 * len(names)
  assert res.best[0][1] > np.quantile(fb.mparams_A[fb.mflops_A <= budget], 0.5)
  kept = search.regularized_evolution(fb, lambda ops: np.asarray(cost(ops))[:, 0], oracle,
                                      budget, population=20, sample_size=5, cycles=30,
                                      measured_only=True)
  assert all(n in measured for n, _, _ in kept.history)


def test_search_with_an_adapted_predictor_meets_the_true_budget_on_a_held_out_device(
    smoke_pretrained, data_dir, nb):
  truth = load_latency_table("nb201", data_dir).latency_ms("fpga").astype(np.float64)
  picks = np.arange(11, 15625, 800)[:20]
  p = LatencyPredictor.load(smoke_pretrained, data_dir=data_dir)
  p = p.adapt("fpga", [nb.arch_names[i] for i in picks], truth[picks])
  predicted = p.predict_ms_indices(np.arange(nb.num_archs), "fpga")
  budget = float(np.median(truth))
  oracle, _ = params_proxy(nb)
  fn, variables = p.predict_fn("fpga")
  res = search.regularized_evolution(nb, jax.jit(lambda ops: fn(variables, ops)), oracle, budget,
                                     population=20, sample_size=5, cycles=100, seed=0)
  idx = nb.indices_of([a for a, _, _ in res.history])
  assert np.all(predicted[idx] <= budget)
  assert np.mean(truth[idx] <= budget) >= 0.8
