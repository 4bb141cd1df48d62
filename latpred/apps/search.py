"""Latency-constrained architecture search with an adapted predictor as the latency model.

  from latpred.apps.search import regularized_evolution
  ms = predictor.predict_ms_indices(np.arange(space.num_archs), "my_device")   # or any callable
  result = regularized_evolution(space, lambda idx: ms[idx], my_accuracy, budget_ms=10.0)
  result.best        # [(arch name, accuracy, predicted ms)], best first, all within budget

Regularized evolution (Real et al., AAAI 2019) under a latency budget: the population holds only
architectures whose predicted latency meets the budget; each cycle samples `sample_size` members,
mutates the most accurate one, and replaces the oldest member when the child meets the budget.
`accuracy_fn` is yours (a trained supernet, a benchmark lookup, a training run); it receives
architecture names and is called once per distinct architecture.

Mutation: NB201 changes one of the six edge ops (the whole space of 15,625 cells is reachable).
FBNet's space has 9^22 networks but latency data (and thus the predictor's graphs) exist for the
5,000 measured ones, so its mutation moves to a measured network at the smallest Hamming distance
from the parent (ties at random): the search covers those 5,000.

HELP's candidate rule: `first_k_choice` (predictions only) and `verified_first_k_choice` (the
same rule, spending a few measurements on the device where they can change the choice).
"""

import dataclasses
from typing import Callable, Sequence

import numpy as np

from latpred.spaces import SearchSpace, fbnet, nb201


@dataclasses.dataclass(frozen=True)
class SearchResult:
  best: list  # [(arch name, accuracy, predicted ms)], most accurate first, all within budget
  history: list  # every distinct feasible architecture evaluated, in evaluation order
  accuracy_calls: int
  infeasible_proposals: int  # children rejected by the latency budget


def _op_matrix(space: SearchSpace) -> np.ndarray:
  if space.name == "nb201":
    return np.array([[nb201.OPS.index(o) for o in nb201.parse(a)] for a in space.arch_names])
  return np.stack([fbnet.parse(a) for a in space.arch_names])


def make_mutation(space: SearchSpace) -> Callable[[int, np.random.Generator], int]:
  """mutate(arch index, rng) -> a different architecture index (see the module docstring)."""
  ops = _op_matrix(space)
  if space.name == "nb201":
    lookup = {tuple(row): i for i, row in enumerate(ops)}

    def mutate(i, rng):
      row = ops[i].copy()
      edge = rng.integers(row.size)
      row[edge] = rng.choice([o for o in range(len(nb201.OPS)) if o != row[edge]])
      return lookup[tuple(row)]
    return mutate

  def mutate(i, rng):
    dist = (ops != ops[i]).sum(1)
    dist[i] = ops.shape[1] + 1
    nearest = np.flatnonzero(dist == dist.min())
    return int(rng.choice(nearest))
  return mutate


def regularized_evolution(space: SearchSpace, latency_ms_fn: Callable[[np.ndarray], np.ndarray],
                          accuracy_fn: Callable[[Sequence[str]], Sequence[float]],
                          budget_ms: float, *, population: int = 50, sample_size: int = 10,
                          cycles: int = 300, top_k: int = 5, seed: int = 0) -> SearchResult:
  """Maximises `accuracy_fn` over architectures whose `latency_ms_fn` (predicted ms) is within
  `budget_ms`.

  Args:
    latency_ms_fn: architecture indices [n] -> predicted latency in ms [n].
    accuracy_fn: architecture names -> accuracies (higher is better).
  Raises:
    ValueError: bad settings, or no architecture of a random draw meets the budget.
  """
  if not budget_ms > 0:
    raise ValueError(f"budget_ms must be positive, got {budget_ms}")
  if not 1 <= sample_size <= population or cycles < 0 or top_k < 1:
    raise ValueError("need 1 <= sample_size <= population, cycles >= 0, top_k >= 1")
  rng = np.random.default_rng(seed)
  mutate = make_mutation(space)
  latency, accuracy = {}, {}

  def lat(idx):
    todo = [i for i in idx if i not in latency]
    if todo:
      for i, v in zip(todo, np.asarray(latency_ms_fn(np.array(todo, np.int64)), np.float64)):
        latency[i] = float(v)
    return [latency[i] for i in idx]

  def acc(idx):
    todo = [i for i in idx if i not in accuracy]
    if todo:
      values = accuracy_fn([space.arch_names[i] for i in todo])
      if len(values) != len(todo):
        raise ValueError(f"accuracy_fn returned {len(values)} values for {len(todo)} "
                         "architectures")
      accuracy.update(zip(todo, map(float, values)))
    return [accuracy[i] for i in idx]

  # Initial population: random feasible architectures (drawn in batches).
  order = rng.permutation(space.num_archs)
  pop = []
  for start in range(0, space.num_archs, 4 * population):
    chunk = order[start:start + 4 * population].tolist()
    pop += [i for i, ms in zip(chunk, lat(chunk)) if ms <= budget_ms][:population - len(pop)]
    if len(pop) == population:
      break
  if not pop:
    raise ValueError(f"no architecture is predicted to meet {budget_ms} ms")
  acc(pop)
  history = list(dict.fromkeys(pop))
  rejected = 0
  for _ in range(cycles):
    contenders = rng.choice(len(pop), min(sample_size, len(pop)), replace=False)
    parent = max((pop[c] for c in contenders), key=lambda i: accuracy[i])
    child = mutate(parent, rng)
    if lat([child])[0] > budget_ms:
      rejected += 1
      continue
    acc([child])
    if child not in history:
      history.append(child)
    pop.append(child)
    if len(pop) > population:
      pop.pop(0)
  ranked = sorted(history, key=lambda i: -accuracy[i])[:top_k]
  best = [(space.arch_names[i], accuracy[i], latency[i]) for i in ranked]
  return SearchResult(best, [(space.arch_names[i], accuracy[i], latency[i]) for i in history],
                      len(accuracy), rejected)


def first_k_choice(predicted_ms, accuracy, budget_ms: float, keep: int = 3):
  """HELP's candidate rule: walk the candidates in order, keep the first `keep` predicted to
  meet the budget, and return the position of the most accurate of them (None if none meets
  it). Returns (chosen position or None, the kept positions)."""
  kept = [i for i, ms in enumerate(np.asarray(predicted_ms)) if ms <= budget_ms][:keep]
  if not kept:
    return None, kept
  return max(kept, key=lambda i: accuracy[i]), kept


@dataclasses.dataclass(frozen=True)
class VerifiedChoice:
  chosen: int | None  # position of the choice (None if nothing is estimated within budget)
  kept: list  # the rule's kept positions on the final estimates
  measured: dict  # position -> measured ms, in the order measured (given ones first)
  verified: bool  # the choice's own latency was measured (so it meets the budget)
  spent: int  # calls of `measure` (given `known` latencies are not counted)


def verified_first_k_choice(predicted_ms, accuracy, budget_ms: float,
                            measure: Callable[[int], float], max_measurements: int,
                            keep: int = 3, known: dict | None = None) -> VerifiedChoice:
  """HELP's rule (`first_k_choice`) on the best latency estimate of each candidate, spending up
  to `max_measurements` calls of `measure(position) -> ms` where a measurement can change the
  choice:

  1. the current choice, while it is unmeasured (a measured choice meets the budget);
  2. then, the choice being measured, an unmeasured candidate that would displace it: one
     walked before the rule stopped (before the last kept), estimated over the budget and more
     accurate than the choice; the closest to the budget by estimate first. If it measures
     within budget it becomes the (measured) choice, so these steps never lower accuracy.

  A measured latency replaces the prediction for good. If the measurements run out while the
  choice is unmeasured, the most accurate candidate measured within budget is chosen instead,
  if there is one. `known`: latencies already measured (e.g. adaptation samples that are
  candidates), free of charge."""
  est = np.array(predicted_ms, np.float64)
  accuracy = np.asarray(accuracy)
  if est.ndim != 1 or accuracy.shape != est.shape:
    raise ValueError(f"predicted_ms {est.shape} and accuracy {accuracy.shape}: want equal 1-D")
  if max_measurements < 0:
    raise ValueError(f"max_measurements must be >= 0, got {max_measurements}")
  measured = dict(known or {})
  bad = [i for i in measured if not 0 <= i < len(est)]
  if bad:
    raise ValueError(f"known positions {bad} are outside the {len(est)} candidates")
  for i, ms in measured.items():
    est[i] = ms
  spent = 0
  while True:
    chosen, kept = first_k_choice(est, accuracy, budget_ms, keep)
    if chosen is not None and chosen not in measured:
      todo = chosen
    else:
      stop = kept[-1] if len(kept) == keep else len(est)
      floor = -np.inf if chosen is None else accuracy[chosen]
      over = [i for i in range(stop)
              if i not in measured and est[i] > budget_ms and accuracy[i] > floor]
      todo = min(over, key=lambda i: est[i]) if over else None
    if todo is None or spent >= max_measurements:
      break
    ms = float(measure(todo))
    if not np.isfinite(ms) or ms <= 0:
      raise ValueError(f"measure({todo}) returned {ms}: want a positive latency in ms")
    est[todo] = measured[todo] = ms
    spent += 1
  if chosen is not None and chosen not in measured:
    within = [i for i, ms in measured.items() if ms <= budget_ms]
    if within:
      chosen = max(within, key=lambda i: accuracy[i])
  return VerifiedChoice(chosen, kept, measured, chosen is not None and chosen in measured,
                        spent)
