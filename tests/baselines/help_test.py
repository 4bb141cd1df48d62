"""HELP baseline (latpred/help.py): encodings, label scale, meta-learning, its own protocol."""

import numpy as np
import pytest

from latpred.baselines import help as help_lib
from latpred.data import load_latency_table, tables
from latpred.protocol import tasks
from latpred.spaces import fbnet, load_space


def test_fbnet_encoding_is_helps_132_d_layout():
  ops = np.array([[fbnet.OPS.index("k5_e1_g2"), fbnet.OPS.index("k3_e6")] + [8] * 20])
  enc = help_lib.fbnet_encoding(ops)
  assert enc.shape == (1, 132)
  np.testing.assert_array_equal(enc[0, :6], [0, 1, 0, 1, 0, 0])  # kernel 5, grouped e1
  np.testing.assert_array_equal(enc[0, 6:12], [1, 0, 0, 0, 0, 1])  # kernel 3, e6
  assert enc[0, 12:].sum() == 0  # skip layers are all zeros


def test_nb201_inputs_add_a_global_node_fed_by_every_node(data_dir):
  space = load_space("nb201", data_dir)
  feats, adj = help_lib.space_inputs(space)
  n = space.graph_set.num_nodes
  assert feats.shape == (space.num_archs, n + 1, len(space.node_types) + 1)
  np.testing.assert_array_equal(feats.sum(-1), 1)  # one-hot, the global node its own type
  np.testing.assert_array_equal(adj[:, n, :], 1)  # the global node sums every node
  np.testing.assert_array_equal(adj[:, np.arange(n + 1), np.arange(n + 1)], 1)  # self-loops
  g = space.graph_set
  s, r = g.senders_AxE[7][g.edge_mask_AxE[7]], g.receivers_AxE[7][g.edge_mask_AxE[7]]
  assert (adj[7, r, s] == 1).all()  # row = receiver: a node sums its predecessors
  assert adj[7, :n, :n].sum() == len(s) + n


def test_label_scale_and_embedding_refuse_constant_input():
  np.testing.assert_allclose(help_lib.normalise([1.0, 2.0, 3.0], [1.0, 3.0]), [0.05, 0.5, 0.95])
  np.testing.assert_allclose(help_lib.hw_embedding([2.0, 4.0, 3.0]), [0.0, 1.0, 0.5])
  with pytest.raises(ValueError, match="all equal"):
    help_lib.normalise([1.0], [2.0, 2.0])
  with pytest.raises(ValueError, match="all equal"):
    help_lib.hw_embedding([5.0] * 10)


def test_trimmed_drops_the_fastest_and_slowest_tenth():
  lat = np.arange(100.0)[::-1]
  kept = help_lib.trimmed(lat, np.arange(100))
  assert len(kept) == 80 and lat[kept].min() == 10 and lat[kept].max() == 89


def test_reference_indices_are_helps_ten_architectures(data_dir):
  for space in tables.SPACES:
    idx = tables.load_help_reference_indices(space, data_dir)
    assert len(idx) == 10 and len(set(idx.tolist())) == 10


def test_meta_learning_then_two_steps_ranks_an_unseen_fbnet_device(data_dir):
  space = load_space("fbnet", data_dir)
  table = load_latency_table("fbnet", data_dir)
  lat = table.latency_ms_HxA.astype(np.float64)
  x_all, ref = help_lib.space_inputs(space), help_lib.reference_indices("fbnet", data_dir)
  train = table.hw_indices(["pixel3", "gold_6226", "1080ti_1", "samsung_a50"])
  init = help_lib.init_meta("fbnet", x_all, 0)
  meta = help_lib.meta_train("fbnet", x_all, lat, train, ref, seed=0, episodes=150)
  target = table.hw_index("raspi4")
  picks = np.random.default_rng(0).choice(space.num_archs, 10, replace=False)
  y = help_lib.normalise(lat[target, picks], lat[target, picks])
  emb = help_lib.hw_embedding(lat[target, ref])
  srcc = [np.corrcoef(np.argsort(np.argsort(help_lib.adapt_predict(m, x_all, emb, picks, y))),
                      np.argsort(np.argsort(lat[target])))[0, 1] for m in (init, meta)]
  assert srcc[1] > 0.45 and srcc[1] > srcc[0] + 0.3, srcc
  rates = np.concatenate([np.ravel(a) for a in __import__("jax").tree_util.tree_leaves(meta[1])])
  assert not np.allclose(rates, help_lib.INNER_LR_INIT)  # the inner rates are learned


def test_help_protocol_scores_each_target_on_its_trimmed_query_range(data_dir):
  task = tasks.get_task("FD")
  res = help_lib.help_protocol(task, seeds=(0, 1), data_dir=data_dir, episodes=3)
  assert set(res["per_device"]) == set(task.test_hw)
  assert all(len(v) == 2 for v in res["per_device"].values())  # one value per seed
  means = [np.mean(v) for v in res["per_device"].values()]
  assert res["mean"] == pytest.approx(np.mean(means))
  per_seed = np.mean(list(res["per_device"].values()), axis=0)
  assert res["std_over_seeds"] == pytest.approx(np.std(per_seed))
  assert per_seed[0] != per_seed[1]  # each seed meta-trains and draws its own samples
  assert len(res["meta_train_s"]) == 2
