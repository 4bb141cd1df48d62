"""OpIndex: op-id rows -> architecture indices inside jit, exact for every row of a table."""

import jax
import numpy as np
import pytest

from latpred.spaces import load_space
from latpred.spaces.opindex import OpIndex


@pytest.mark.parametrize("space_name", ["nb201", "fbnet"])
def test_every_architecture_of_the_space_maps_to_its_index(space_name, data_dir):
  space = load_space(space_name, data_dir)
  index = OpIndex(space.op_ids_AxS, len(space.ops))
  idx, found = jax.jit(index.lookup)(space.op_ids_AxS)
  assert bool(found.all())
  np.testing.assert_array_equal(np.asarray(idx), np.arange(space.num_archs))


def test_rows_outside_the_table_are_not_found():
  rng = np.random.default_rng(0)
  table = np.unique(rng.integers(0, 9, (300, 22)), axis=0)
  index = OpIndex(table, 9)
  assert len(index.chunks) > 1  # 22 base-9 digits need several int32 chunks
  outside = table[:3].copy()
  outside[0, -1] = (outside[0, -1] + 1) % 9  # differs in the last chunk only
  outside[1, 0] = (outside[1, 0] + 1) % 9  # in the first only
  outside[2, 5] = 9  # not an op id
  queries = np.concatenate([outside, table[[7, 0]]])
  present = {tuple(r) for r in table}
  idx, found = index.lookup(queries)
  expected = [tuple(r) in present for r in outside] + [True, True]
  np.testing.assert_array_equal(np.asarray(found), expected)
  np.testing.assert_array_equal(np.asarray(idx)[3:], [7, 0])


def test_bad_tables_and_queries_are_refused():
  with pytest.raises(ValueError, match="repeated"):
    OpIndex(np.zeros((2, 6), int), 5)
  with pytest.raises(ValueError, match="0..4"):
    OpIndex(np.full((1, 6), 5), 5)
  with pytest.raises(ValueError, match=r"\[B, 6\]"):
    OpIndex(np.zeros((1, 6), int), 5).lookup(np.zeros((2, 5), np.int32))
