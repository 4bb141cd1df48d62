"""Latency-constrained architecture search with an adapted predictor as the latency model.

  from latpred.apps.search import regularized_evolution
  fn, variables = predictor.predict_fn("my_device")       # or any callable of op ids
  latency = jax.jit(lambda ops: fn(variables, ops))       # op ids int32 [n, S] -> ms [n]
  result = regularized_evolution(space, latency, my_accuracy, budget_ms=10.0)
  result.best        # [(arch name, accuracy, predicted ms)], best first, all within budget

Regularized evolution (Real et al., AAAI 2019) under a latency budget: the population holds only
architectures whose predicted latency meets the budget; each cycle samples `sample_size` members,
mutates the most accurate one, and replaces the oldest member when the child meets the budget.
`accuracy_fn` is yours (a trained supernet, a benchmark lookup, a training run); it receives
architecture names and is called once per distinct architecture.

Candidates are op-id rows (`SearchSpace.op_ids`). Mutation changes one slot's op (an NB201 edge,
an FBNet layer) to another, so the whole space is reachable: NB201's 15,625 cells and FBNet's
9^22 networks, of which 5,000 are measured (the predictor covers the others through its
surrogate, `latpred.adapt.pure`; the initial population is drawn uniformly from the space).
`measured_only=True` keeps the search on the space's table: FBNet's mutation then moves to a
measured network at the smallest Hamming distance from the parent (ties at random).

HELP's candidate rule: `first_k_choice` (predictions only) and `verified_first_k_choice` (the
same rule, spending a few measurements on the device where they can change the choice).
"""

import dataclasses
from typing import Callable, Sequence

import numpy as np

from latpred.spaces import SearchSpace


@dataclasses.dataclass(frozen=True)
class SearchResult:
  best: list  # [(arch name, accuracy, predicted ms)], most accurate first, all within budget
  history: list  # every distinct feasible architecture evaluated, in evaluation order
  accuracy_calls: int
  infeasible_proposals: int  # children rejected by the latency budget


MAX_INITIAL_DRAWS = 20_000  # random rows tried for the initial population (whole space)


def _covers_space(space: SearchSpace) -> bool:
  """Whether the space's table holds every architecture (NB201 does)."""
  return space.num_archs == len(space.ops) ** space.num_slots


def make_mutation(space: SearchSpace, measured_only: bool = False
                  ) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
  """mutate(op-id row, rng) -> a different row (see the module docstring)."""
  num_ops = len(space.ops)
  if not measured_only or _covers_space(space):
    def mutate(row, rng):
      row = np.array(row, np.int32)
      slot = rng.integers(row.size)
      row[slot] = rng.choice([o for o in range(num_ops) if o != row[slot]])
      return row
    return mutate

  table = space.op_ids_AxS

  def nearest(row, rng):
    dist = (table != np.asarray(row)[None, :]).sum(1)
    dist[dist == 0] = table.shape[1] + 1
    return table[rng.choice(np.flatnonzero(dist == dist.min()))].copy()
  return nearest


def _initial_rows(space: SearchSpace, rng, batch: int, measured_only: bool):
  """Batches of candidate rows for the initial population."""
  if measured_only or _covers_space(space):
    order = rng.permutation(space.num_archs)
    for start in range(0, space.num_archs, batch):
      yield space.op_ids_AxS[order[start:start + batch]]
    return
  for _ in range(0, MAX_INITIAL_DRAWS, batch):
    yield rng.integers(0, len(space.ops), (batch, space.num_slots)).astype(np.int32)


def regularized_evolution(space: SearchSpace, latency_ms_fn: Callable[[np.ndarray], np.ndarray],
                          accuracy_fn: Callable[[Sequence[str]], Sequence[float]],
                          budget_ms: float, *, population: int = 50, sample_size: int = 10,
                          cycles: int = 300, top_k: int = 5, seed: int = 0,
                          measured_only: bool = False) -> SearchResult:
  """Maximises `accuracy_fn` over architectures whose `latency_ms_fn` (predicted ms) is within
  `budget_ms`.

  Args:
    latency_ms_fn: op ids int32 [n, S] -> predicted latency in ms [n] (NaN counts as over).
    accuracy_fn: architecture names (`SearchSpace.names_of`) -> accuracies (higher is better).
    measured_only: search the space's table of measured architectures only.
  Raises:
    ValueError: bad settings, or no architecture of the initial draws meets the budget.
  """
  if not budget_ms > 0:
    raise ValueError(f"budget_ms must be positive, got {budget_ms}")
  if not 1 <= sample_size <= population or cycles < 0 or top_k < 1:
    raise ValueError("need 1 <= sample_size <= population, cycles >= 0, top_k >= 1")
  rng = np.random.default_rng(seed)
  mutate = make_mutation(space, measured_only)
  latency, accuracy, names = {}, {}, {}  # keyed by the row's bytes

  def lat(rows):
    keys = [r.tobytes() for r in rows]
    todo = [(k, r) for k, r in dict(zip(keys, rows)).items() if k not in latency]
    if todo:
      values = np.asarray(latency_ms_fn(np.stack([r for _, r in todo])), np.float64)
      for (k, r), v in zip(todo, values):
        latency[k] = float(v) if np.isfinite(v) else np.inf
        names[k] = space.names_of(r[None])[0]
    return [latency[k] for k in keys]

  def acc(keys):
    todo = list(dict.fromkeys(k for k in keys if k not in accuracy))
    if todo:
      values = accuracy_fn([names[k] for k in todo])
      if len(values) != len(todo):
        raise ValueError(f"accuracy_fn returned {len(values)} values for {len(todo)} "
                         "architectures")
      accuracy.update(zip(todo, map(float, values)))

  # Initial population: random feasible architectures (drawn in batches).
  pop, rows = [], {}
  for batch in _initial_rows(space, rng, 4 * population, measured_only):
    for row, ms in zip(batch, lat(batch)):
      k = row.tobytes()
      if ms <= budget_ms and k not in rows and len(pop) < population:
        pop.append(k)
        rows[k] = row
    if len(pop) == population:
      break
  if not pop:
    raise ValueError(f"no architecture is predicted to meet {budget_ms} ms")
  acc(pop)
  history = list(pop)
  rejected = 0
  for _ in range(cycles):
    contenders = rng.choice(len(pop), min(sample_size, len(pop)), replace=False)
    parent = max((pop[c] for c in contenders), key=lambda k: accuracy[k])
    child = mutate(rows[parent], rng)
    k = child.tobytes()
    if lat([child])[0] > budget_ms:
      rejected += 1
      continue
    rows[k] = child
    acc([k])
    if k not in history:
      history.append(k)
    pop.append(k)
    if len(pop) > population:
      pop.pop(0)
  entry = lambda k: (names[k], accuracy[k], latency[k])  # noqa: E731
  ranked = sorted(history, key=lambda k: -accuracy[k])[:top_k]
  return SearchResult([entry(k) for k in ranked], [entry(k) for k in history], len(accuracy),
                      rejected)


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
