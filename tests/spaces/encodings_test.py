"""Supplementary encodings."""

import numpy as np

from latpred.spaces import encodings, load_space


def test_onehot_encoding_marks_the_op_at_every_position(data_dir):
  space = load_space("nb201", data_dir)
  enc = encodings.encoding(space, "onehot")
  types = space.graph_set.node_types_AxN
  assert enc.shape == (space.num_archs, types.shape[1] * len(space.node_types))
  np.testing.assert_array_equal(enc.sum(1), types.shape[1])
  row = enc[123].reshape(types.shape[1], len(space.node_types))
  np.testing.assert_array_equal(row.argmax(1), types[123])
