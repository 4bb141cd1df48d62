import numpy as np
import pytest

from latpred.data import (
  load_fbnet_archs,
  load_fbnet_zcp,
  load_latency_table,
  load_nb201_archs,
  tables,
)


@pytest.mark.parametrize("space,num_archs", [("nb201", 15625), ("fbnet", 5000)])
def test_latency_table_shapes_units_and_names(data_dir, space, num_archs):
  table = load_latency_table(space, data_dir)
  assert table.latency_ms_HxA.shape == (27, num_archs)
  assert table.latency_ms_HxA.dtype == np.float32
  assert np.all(table.latency_ms_HxA > 0)
  assert "pixel2" in table.hw_names and "fpga" in table.hw_names
  assert table.hw_names == tuple(sorted(table.hw_names))
  assert not table.latency_ms_HxA.flags.writeable


def test_known_values_and_phone_ties(data_dir):
  nb = load_latency_table("nb201", data_dir)
  # First entries of pixel2.pt (whole milliseconds) and of FBNet fpga.pt.
  np.testing.assert_array_equal(nb.latency_ms("pixel2")[:5], [9, 17, 16, 5, 7])
  fb = load_latency_table("fbnet", data_dir)
  np.testing.assert_allclose(fb.latency_ms("fpga")[:2], [25.30272, 23.03968], rtol=1e-6)
  pixel2 = nb.latency_ms("pixel2")
  assert np.all(pixel2 == np.round(pixel2)) and len(np.unique(pixel2)) < 100


def test_unknown_device_lists_valid_ones(data_dir):
  table = load_latency_table("fbnet", data_dir)
  with pytest.raises(KeyError, match="titan_rtx_64"):
    table.hw_index("tpu_v9")


def test_unknown_space():
  with pytest.raises(ValueError, match="nb201, fbnet"):
    tables.check_space("darts")


def test_arch_lists(data_dir):
  archs = load_nb201_archs(data_dir)
  assert len(archs) == 15625 and len(set(archs)) == 15625
  assert archs[0] == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                      "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
  ops = load_fbnet_archs(data_dir)
  assert ops.shape == (5000, 22) and ops.min() == 0 and ops.max() == 8
  assert list(ops[0]) == [7, 8, 1, 8, 4, 8, 8, 8, 7, 4, 1, 4, 7, 3, 2, 7, 3, 2, 4, 2, 4, 5]


def test_zcp_table(data_dir):
  zcp = load_fbnet_zcp(data_dir)
  assert zcp.shape == (5000, len(tables.ZCP_NAMES)) and np.all(np.isfinite(zcp))
  assert zcp[0, tables.ZCP_NAMES.index("params")] == 1790500.0
