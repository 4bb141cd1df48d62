"""The vmapped step and the training loops on a small real slice."""

import jax
import numpy as np
import pytest

from latpred.spaces import graphs
from latpred.train import loop, steps


def test_vmapped_loss_equals_per_device_loop(tiny_nb201):
  space, table, model, supp, params = tiny_nb201
  idx = np.arange(8)
  g = graphs.batch(space.graph_set, idx, 8)
  s = np.zeros((9, 3), np.float32)
  s[:8] = supp[idx]
  hw = np.array([0, 4, 9], np.int32)
  lat = np.zeros((3, 9), np.float32)
  lat[:, :8] = table.latency_ms_HxA[hw][:, idx]
  rng = jax.random.PRNGKey(3)
  vmapped = steps.batch_loss(params, model, g, s, hw, lat, rng)
  keys = jax.random.split(rng, 3)
  loop = np.mean([steps.per_hw_loss(params, model, g, s, hw[k], lat[k], keys[k])
                  for k in range(3)])
  assert float(vmapped) == pytest.approx(float(loop), rel=1e-5)


def test_training_compiles_one_epoch_program(tiny_nb201, count_compiles):
  space, table, model, supp, params = tiny_nb201
  kw = dict(batch_size=16, lr=1e-3, weight_decay=0.0, final_lr=1e-5)

  def fit(epochs, lr):
    loop.fit(model, params, space.graph_set, supp, [0, 1], table.latency_ms_HxA[[0, 1]],
             np.arange(40), epochs=epochs, seed=0, **(kw | {"lr": lr}))

  def fit_runs(epochs, lr):
    loop.fit_runs(model, [params] * 2, space.graph_set, supp, [[0], [1]],
                  [table.latency_ms_HxA[[0]], table.latency_ms_HxA[[1]]], [np.arange(40)] * 2,
                  epochs=epochs, seeds_K=[0, 1], **(kw | {"lr": lr}))

  for train in (fit, fit_runs):
    train(2, 1e-3)  # compiles (the epoch program, optimizer set-up, ...)
    with count_compiles() as compiles:
      train(2, 1e-3)  # the same shapes and optimizer: nothing new
    assert compiles == []
    with count_compiles() as compiles:
      train(2, 2e-3)  # another optimizer: the epoch program once more, for every epoch
    assert 1 <= len(compiles) <= 3, compiles


def test_the_last_batchs_padding_does_not_count(tiny_nb201):
  space, table, model, supp, params = tiny_nb201
  opt = steps.Optimizer(1e-3, 0.0, 1e-5)
  valid = loop.epoch_valid(20, 16)
  assert valid.sum() == 20 and valid.shape == (2, 16)
  losses = []
  for pad in (3, 77):  # what the padding slots hold must not matter
    order = np.where(valid, np.arange(32).reshape(2, 16), pad).astype(np.int32)
    p = jax.tree_util.tree_map(lambda x: x.copy(), params)
    out = steps.train_epoch(model, opt, p, opt.init(p), graphs.device_arrays(space.graph_set),
                            supp, order, valid, np.array([0, 4], np.int32),
                            table.latency_ms_HxA[[0, 4]], jax.random.PRNGKey(0), 2)
    losses.append(np.asarray(out[3]))
  np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_fit_runs_trains_independent_runs_like_sequential_fits(tiny_nb201):
  import scipy.stats
  space, table, model, supp, params = tiny_nb201
  archs = [np.arange(0, 24), np.arange(24, 48)]
  kw = dict(epochs=3, batch_size=8, lr=1e-3, weight_decay=1e-5, final_lr=1e-6)
  seq = [loop.fit(model, params, space.graph_set, supp, [k], table.latency_ms_HxA[[k]], a,
                  seed=k, **kw)[0] for k, a in enumerate(archs)]
  vm = loop.fit_runs(model, [params, params], space.graph_set, supp, [[0], [1]],
                     [table.latency_ms_HxA[[0]], table.latency_ms_HxA[[1]]], archs,
                     seeds_K=[0, 1], **kw)
  every = np.arange(200)
  for k in range(2):
    a = loop.predict(model, seq[k], space.graph_set, supp, k, every)
    b = loop.predict(model, vm[k], space.graph_set, supp, k, every)
    assert scipy.stats.spearmanr(a, b).statistic > 0.95  # equal up to rounding amplified by Adam
  with pytest.raises(ValueError, match="one size"):
    loop.fit_runs(model, [params, params], space.graph_set, supp, [[0], [1]],
                  [table.latency_ms_HxA[[0]]] * 2, [np.arange(4), np.arange(5)], seeds_K=[0, 1],
                  **kw)


def test_cosine_schedule_with_a_traced_horizon_matches_optax():
  import optax
  ref = optax.cosine_decay_schedule(2e-3, 80, alpha=1e-5 / 2e-3)
  ours = steps.cosine_schedule(2e-3, 1e-5, 80)
  traced = jax.jit(lambda c, t: steps.cosine_schedule(2e-3, 1e-5, t)(c))
  for count in (0, 1, 40, 79, 80, 200):
    c = np.int32(count)
    assert float(ours(c)) == float(ref(c))
    assert float(traced(c, np.int32(80))) == pytest.approx(float(ref(c)), rel=1e-6)


def test_padded_epochs_change_nothing_and_share_one_program(tiny_nb201, count_compiles):
  space, table, model, supp, params = tiny_nb201
  kw = dict(epochs=2, batch_size=16, lr=1e-3, weight_decay=0.0, final_lr=1e-5, seed=3)

  def fit(n, steps_per_epoch=None):
    out, history = loop.fit(model, params, space.graph_set, supp, [0], table.latency_ms_HxA[[0]],
                            np.arange(n), steps_per_epoch=steps_per_epoch, **kw)
    return loop.predict(model, out, space.graph_set, supp, 0, np.arange(64)), history

  alone, alone_history = fit(16)  # one step per epoch
  fit(20)  # two steps per epoch: compiles that shape
  with count_compiles() as compiles:
    padded, padded_history = fit(16, steps_per_epoch=2)  # one step and one skipped
  assert compiles == []  # the n = 20 epoch program, reused
  np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(padded_history, alone_history, rtol=1e-6)  # skipped steps ignored
  with pytest.raises(ValueError, match="steps_per_epoch"):
    loop.epoch_valid(20, 16, steps_per_epoch=1)
  assert [loop.epoch_steps(n, 16) for n in (20, 16, 5)] == [2, 1, 1]
