"""Latency-constrained regularized evolution with a stand-in accuracy oracle."""

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


@pytest.fixture(scope="module")
def nb(data_dir):
  return load_space("nb201", data_dir)


def test_evolution_respects_the_budget_and_improves(nb, data_dir):
  true_ms = load_latency_table("nb201", data_dir).latency_ms("raspi4").astype(np.float64)
  budget = float(np.quantile(true_ms, 0.3))
  oracle, calls = params_proxy(nb)
  res = search.regularized_evolution(nb, lambda i: true_ms[i], oracle, budget, population=20,
                                     sample_size=5, cycles=150, seed=1)
  assert all(ms <= budget for _, _, ms in res.history)
  assert len(calls) == len(set(calls)) == res.accuracy_calls  # one call per architecture
  feasible = nb.mparams_A[true_ms <= budget]
  assert res.best[0][1] >= np.quantile(feasible, 0.99)  # near the best feasible proxy value
  assert [b[1] for b in res.best] == sorted((b[1] for b in res.best), reverse=True)
  again = search.regularized_evolution(nb, lambda i: true_ms[i], params_proxy(nb)[0], budget,
                                       population=20, sample_size=5, cycles=150, seed=1)
  assert again.best == res.best


def test_mutations_change_one_nb201_edge_and_stay_among_measured_fbnet(nb, data_dir):
  rng = np.random.default_rng(0)
  mutate = search.make_mutation(nb)
  for i in (0, 77, 15624):
    j = mutate(i, rng)
    diff = [a != b for a, b in zip(nb.arch_names[i].split("|"), nb.arch_names[j].split("|"))]
    assert sum(diff) == 1
  fb = load_space("fbnet", data_dir)
  ops = search._op_matrix(fb)
  mutate = search.make_mutation(fb)
  j = mutate(3, rng)
  dist = (ops != ops[3]).sum(1)
  dist[3] = 99
  assert j != 3 and dist[j] == dist.min()


def test_bad_settings_and_impossible_budgets_are_refused(nb):
  oracle, _ = params_proxy(nb)
  with pytest.raises(ValueError, match="positive"):
    search.regularized_evolution(nb, lambda i: np.ones(len(i)), oracle, 0.0)
  with pytest.raises(ValueError, match="sample_size"):
    search.regularized_evolution(nb, lambda i: np.ones(len(i)), oracle, 1.0, population=3,
                                 sample_size=5)
  with pytest.raises(ValueError, match="no architecture"):
    search.regularized_evolution(nb, lambda i: np.full(len(i), 9.0), oracle, 1.0)


def test_search_with_an_adapted_predictor_meets_the_true_budget_on_a_held_out_device(
    smoke_pretrained, data_dir, nb):
  truth = load_latency_table("nb201", data_dir).latency_ms("fpga").astype(np.float64)
  picks = np.arange(11, 15625, 800)[:20]
  p = LatencyPredictor.load(smoke_pretrained, data_dir=data_dir)
  p = p.adapt("fpga", [nb.arch_names[i] for i in picks], truth[picks])
  predicted = p.predict_ms_indices(np.arange(nb.num_archs), "fpga")
  budget = float(np.median(truth))
  oracle, _ = params_proxy(nb)
  res = search.regularized_evolution(nb, lambda i: predicted[i], oracle, budget, population=20,
                                     sample_size=5, cycles=100, seed=0)
  idx = nb.indices_of([a for a, _, _ in res.history])
  assert np.all(predicted[idx] <= budget)
  assert np.mean(truth[idx] <= budget) >= 0.8
