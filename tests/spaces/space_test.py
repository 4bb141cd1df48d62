"""SearchSpace: op ids of architectures given as strings or op lists."""

import numpy as np
import pytest

from latpred.spaces import load_space, nb201


def test_op_ids_of_strings_and_op_lists_match_the_table(data_dir):
  nb = load_space("nb201", data_dir)
  cell = nb.arch_names[17]
  np.testing.assert_array_equal(nb.op_ids([cell, nb201.parse(cell)]), nb.op_ids_AxS[[17, 17]])
  fb = load_space("fbnet", data_dir)
  net = fb.arch_names[3]
  np.testing.assert_array_equal(fb.op_ids([net, [int(i) for i in net.split("_")]])[1],
                                fb.op_ids_AxS[3])
  assert fb.op_ids([[0] * 22]).dtype == np.int32  # an FBNet network need not be measured
  with pytest.raises(ValueError, match="22 layers"):
    fb.op_ids([[0] * 21])
  with pytest.raises(ValueError, match="unknown NB201 op"):
    nb.op_ids([("conv",) * 6])
  assert nb.op_ids([]).shape == (0, 6)
