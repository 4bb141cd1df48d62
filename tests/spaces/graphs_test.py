import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from latpred.spaces import graphs, load_space


def _masked_node_sum(g: jraph.GraphsTuple):
  """Per-graph sum of (node type + 1) over real nodes only."""
  values = (g.nodes["type"] + 1) * graphs.node_mask(g)
  per_graph = jax.ops.segment_sum(values, graphs.node_graph_index(g), g.n_node.shape[0])
  return jnp.where(graphs.graph_mask(g), per_graph, 0)


@pytest.mark.parametrize("space_name,variant", [("nb201", "full"), ("nb201", "pruned"),
                                                ("fbnet", "chain"), ("fbnet", "identity")])
def test_padding_does_not_change_a_jitted_sum(data_dir, space_name, variant):
  space = load_space(space_name, data_dir, graph_variant=variant)
  gs = space.graph_set
  idx = np.array([3, 1, 4, 1, 5, 9, 2, 6])
  expected = (gs.node_types_AxN[idx] + 1).sum(axis=1)
  fn = jax.jit(_masked_node_sum)
  for batch_size in (8, 16):
    out = np.asarray(fn(graphs.batch(gs, idx, batch_size)))
    np.testing.assert_array_equal(out[:len(idx)], expected)
    assert np.all(out[len(idx):] == 0)


def test_fixed_shapes_and_jraph_contract(data_dir):
  gs = load_space("nb201", data_dir, graph_variant="pruned").graph_set
  a = graphs.batch(gs, np.arange(5), 8)
  b = graphs.batch(gs, np.arange(100, 108), 8)
  for g in (a, b):
    assert g.nodes["type"].shape == (8 * 8 + 1,) and g.senders.shape == (8 * gs.num_edge_slots + 1,)
    assert g.n_node.shape == (9,) and g.n_node.sum() == g.nodes["type"].shape[0]
    assert g.n_edge.sum() == g.senders.shape[0]
    # jraph's own masks agree with ours.
    np.testing.assert_array_equal(jraph.get_graph_padding_mask(g), graphs.graph_mask(g))
    np.testing.assert_array_equal(jraph.get_node_padding_mask(g), graphs.node_mask(g))
    # Padding edges stay inside the padding graph.
    real_nodes = int(g.n_node[:-1].sum())
    pad_edges = g.senders[g.n_edge[:-1].sum():]
    assert np.all(pad_edges >= real_nodes)
  assert a.n_node[5:-1].tolist() == [0, 0, 0]


def test_one_compilation_per_batch_size(data_dir):
  gs = load_space("fbnet", data_dir).graph_set
  traces = []

  @jax.jit
  def f(g):
    traces.append(1)
    return _masked_node_sum(g)

  for start in range(0, 50, 10):
    f(graphs.batch(gs, np.arange(start, start + 10 - start // 10), 16))
  assert len(traces) == 1


def test_batches_cover_every_index_once():
  chunks = graphs.batches(37, 16)
  assert [len(c) for c in chunks] == [16, 16, 5]
  np.testing.assert_array_equal(np.concatenate(chunks), np.arange(37))


def test_overfull_batch_is_an_error(data_dir):
  gs = load_space("nb201", data_dir).graph_set
  with pytest.raises(ValueError, match="do not fit"):
    graphs.batch(gs, np.arange(9), 8)


def test_build_graph_set_requires_equal_node_counts():
  g1 = (np.zeros(3, np.int32), np.array([0]), np.array([1]))
  g2 = (np.zeros(4, np.int32), np.array([0]), np.array([1]))
  with pytest.raises(ValueError, match="same node count"):
    graphs.build_graph_set([g1, g2])


@pytest.mark.parametrize("space_name,variant", [("fbnet", "chain"), ("fbnet", "identity"),
                                                ("nb201", "full"), ("nb201", "pruned")])
def test_graphs_from_op_ids_equal_the_gathered_ones(data_dir, space_name, variant):
  space = load_space(space_name, data_dir, variant)
  template = graphs.op_template(space.graph_set, space.op_ids_AxS, len(space.ops))
  if variant == "pruned":  # edges follow the ops: no template
    assert template is None
    return
  idx = np.array([3, 77, 1000, 0])
  built = graphs.from_ops(template, space.op_ids_AxS[idx])
  gathered = graphs.gather_batch(graphs.device_arrays(space.graph_set), idx)
  for a, b in zip(jax.tree_util.tree_leaves(built), jax.tree_util.tree_leaves(gathered)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("space_name,variant", [("nb201", "full"), ("fbnet", "chain")])
def test_predecessor_sums_equal_the_edge_scatter_on_real_nodes(data_dir, space_name, variant):
  space = load_space(space_name, data_dir, variant)
  template = graphs.op_template(space.graph_set, space.op_ids_AxS, len(space.ops))
  preds = graphs.predecessors(template)
  real = np.asarray(template.edge_mask_E, bool)
  edges = set(zip(np.asarray(template.senders_E)[real].tolist(),
                  np.asarray(template.receivers_E)[real].tolist()))
  n = len(template.slot_N)
  assert {(s, r) for row in preds for r, s in enumerate(row) if s < n} == edges
  g = graphs.from_ops(template, space.op_ids_AxS[[3, 77, 1000]])
  values = jax.random.normal(jax.random.PRNGKey(0), (g.nodes["type"].shape[0], 5))
  scatter = jax.ops.segment_sum(values[g.senders], g.receivers, num_segments=values.shape[0])
  gathered = jax.jit(lambda v: graphs.sum_from_predecessors(v, preds))(values)
  mask = np.asarray(graphs.node_mask(g))
  np.testing.assert_allclose(np.asarray(gathered)[mask], np.asarray(scatter)[mask], rtol=1e-6,
                             atol=1e-6)
  assert not np.asarray(gathered)[~mask].any()
  with pytest.raises(ValueError, match="from_ops batch"):
    graphs.sum_from_predecessors(values[:-1], preds)
