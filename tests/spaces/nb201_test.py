import json

import numpy as np
import pytest

from latpred.spaces import load_space, nb201

CELL = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"


def test_every_cell_round_trips(data_dir):
  space = load_space("nb201", data_dir)
  for i, arch in enumerate(space.arch_names):
    ops = nb201.parse(arch)
    assert nb201.to_string(ops) == arch
    assert space.index_of(arch) == i
    assert space.index_of(ops) == i


@pytest.mark.parametrize("arch,message", [
    ("|nor_conv_3x3~0|+|none~0|skip_connect~1|", "3 '\\+'-separated"),
    (CELL.replace("avg_pool_3x3", "max_pool_3x3"), "unknown op 'max_pool_3x3'"),
    (CELL.replace("skip_connect~2", "skip_connect~1"), "should come from node 2"),
    (CELL.replace("|none~0|skip_connect~1|", "|none~0|"), "node 2 needs 2 inputs"),
    (CELL.replace("~0|+", "0|+", 1), "is not 'op~node'"),
    (CELL[1:], "enclosed"),
])
def test_malformed_cells_say_what_is_wrong(arch, message):
  with pytest.raises(ValueError, match=message):
    nb201.parse(arch)


def test_flops_params_match_reference_rows(data_dir):
  ref = json.loads((data_dir / "reference/nb201_cifar100_flops_params.json").read_text())
  names = ref["op_index_names"]
  assert len(ref["rows"]) >= 10
  for key, row in ref["rows"].items():
    ops = [names[int(i)] for i in key.strip("()").split(",")]
    flops, params = nb201.flops_params(ops)
    assert flops == pytest.approx(row["flops"], rel=1e-6), key
    assert params == pytest.approx(row["params"], rel=1e-6), key


def test_space_costs_are_the_formula(data_dir):
  space = load_space("nb201", data_dir)
  i = space.index_of(CELL)
  assert (space.mflops_A[i], space.mparams_A[i]) == nb201.flops_params(nb201.parse(CELL))


def test_graph_of_a_known_cell():
  types, senders, receivers = nb201.graph(nb201.parse(CELL))
  assert [nb201.NODE_TYPES[t] for t in types] == [
      "input", "nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1",
      "skip_connect", "output"]
  # method.md §3: 0->1, 0->2, 0->4, 1->3, 1->5, 2->6, 3->6, 4->7, 5->7, 6->7.
  assert list(zip(senders, receivers)) == [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6),
                                           (3, 6), (4, 7), (5, 7), (6, 7)]


def test_pruned_graph_drops_none_and_bypasses_skip():
  types, senders, receivers = nb201.graph(nb201.parse(CELL), pruned=True)
  assert len(types) == 8
  edges = set(zip(senders.tolist(), receivers.tolist()))
  # node 2 (none) has no edges; skip node 3 (e(1->2), fed by 1, feeding 6) is bypassed: 1->6;
  # skip node 6 (e(2->3), fed by 2 and 3, feeding the output): both gone with it, so 1->7.
  assert edges == {(0, 1), (0, 4), (1, 5), (1, 7), (4, 7), (5, 7)}
  assert not any(2 in e or 3 in e or 6 in e for e in edges)


def test_graph_variants_validated(data_dir):
  with pytest.raises(ValueError, match="full, pruned"):
    load_space("nb201", data_dir, graph_variant="chain")
  pruned = load_space("nb201", data_dir, graph_variant="pruned")
  assert pruned.graph_set.node_types_AxN.shape == (15625, 8)
  assert np.all(pruned.graph_set.edge_mask_AxE.sum(1) <= pruned.graph_set.num_edge_slots)


def test_node_costs_sum_to_the_cell_part_of_flops_params():
  ops = nb201.parse(CELL)
  empty = nb201.flops_params(["none"] * 6)
  total = nb201.flops_params(ops)
  np.testing.assert_allclose(nb201.node_costs(ops).sum(0) + empty, total, rtol=1e-12)
