import numpy as np
import pytest

from latpred.data import load_latency_table
from latpred.protocol import tasks

_BATCHES = ("1", "32", "64")


def test_paper_tasks_as_in_method_md():
  assert set(tasks.PAPER_TASKS) == {"ND", "FD", "F1", "F2", "F3", "F4", "FA"}
  nd = tasks.get_task("ND")
  assert nd.space == "nb201" and nd.test_hw == ("titan_rtx_256", "gold_6226", "fpga", "pixel2",
                                                "raspi4", "eyeriss")
  assert len(nd.train_hw) == 9
  assert tasks.get_task("F3").train_hw == ("essential_ph_1", "pixel2", "pixel3", "raspi4",
                                           "samsung_s7")
  fa = tasks.get_task("FA")
  assert len(fa.train_hw) == 15 and all(hw.rsplit("_", 1)[1] in _BATCHES for hw in fa.train_hw)
  assert fa.test_hw == ("gold_6226", "essential_ph_1", "samsung_s7", "pixel2")
  assert [len(tasks.get_task(n).train_hw) for n in ("FD", "F1", "F2", "F3", "F4")] == [
      9, 5, 5, 5, 10]


def test_generated_tasks_have_the_paper_shapes_and_never_overlap():
  shapes = {name: (m, n) for name, m, n in tasks.GENERATED_SHAPES}
  assert set(tasks.GENERATED_TASKS) == {"N1g", "N2g", "N3g", "N4g", "NAg"}
  for name, task in tasks.GENERATED_TASKS.items():
    assert task.space == "nb201"
    assert (len(task.train_hw), len(task.test_hw)) == shapes[name]
    assert not set(task.train_hw) & set(task.test_hw)
  splits = {(t.train_hw, t.test_hw) for t in tasks.GENERATED_TASKS.values()}
  assert len(splits) == len(tasks.GENERATED_TASKS)


@pytest.fixture(scope="module")
def nb201_corr(data_dir):
  table = load_latency_table("nb201", data_dir)
  return tasks.hw_correlation(table.latency_ms_HxA), table.hw_names


def test_registered_generated_tasks_regenerate(nb201_corr):
  corr, names = nb201_corr
  regenerated = tasks.generate_nb201_tasks(corr, names, tasks.GENERATION_SEED)
  for task in regenerated:
    registered = tasks.get_task(task.name)
    assert (task.train_hw, task.test_hw) == (registered.train_hw, registered.test_hw)


def test_partition_is_deterministic_disjoint_and_hard(nb201_corr):
  corr, names = nb201_corr
  for m, n in ((5, 5), (10, 3), (17, 3), (3, 12)):
    first = tasks.partition(corr, names, m, n, seed=7)
    assert first == tasks.partition(corr, names, m, n, seed=7)
    train, test = first
    assert (len(train), len(test)) == (m, n) and not set(train) & set(test)
  # The target side is less correlated with the training side than devices are on average.
  train, test = tasks.partition(corr, names, 5, 5, seed=0)
  idx = {h: i for i, h in enumerate(names)}
  cross = np.mean([corr[idx[a], idx[b]] for a in train for b in test])
  assert cross < np.mean(corr[~np.eye(len(names), dtype=bool)])


def test_partition_rejects_impossible_sizes(nb201_corr):
  corr, names = nb201_corr
  with pytest.raises(ValueError, match="cannot split"):
    tasks.partition(corr, names, 20, 10, seed=0)


def test_hw_correlation_matches_scipy():
  import scipy.stats
  rng = np.random.default_rng(0)
  lat = rng.integers(1, 5, size=(4, 50)).astype(np.float32)  # many ties
  expected = scipy.stats.spearmanr(lat, axis=1).statistic
  np.testing.assert_allclose(tasks.hw_correlation(lat), expected, atol=1e-12)


def test_unknown_names_list_valid_ones():
  with pytest.raises(KeyError, match="ND, FD"):
    tasks.get_task("N1")
  with pytest.raises(ValueError, match="unknown nb201 device 'jetson_nano'.*pixel2"):
    tasks.custom_task("nb201", ["pixel3"], ["jetson_nano"])
  with pytest.raises(ValueError, match="both training and target"):
    tasks.custom_task("fbnet", ["pixel3", "fpga"], ["fpga"])


def test_tuning_splits_share_no_target_with_a_reported_task():
  reported = {(t.space, hw) for t in tasks.REPORTED_TASKS.values() for hw in t.test_hw}
  assert {t.space for t in tasks.TUNING_TASKS.values()} == {"nb201", "fbnet"}
  for t in tasks.TUNING_TASKS.values():
    shared = {hw for hw in t.test_hw if (t.space, hw) in reported}
    assert not shared, f"tuning split {t.name} targets reported-task targets {shared}"
  for t in tasks.RETIRED_TUNING_TASKS.values():  # why they were retired
    assert any((t.space, hw) in reported for hw in t.test_hw)
