import numpy as np
import pytest

from latpred.protocol import samplers


@pytest.fixture(scope="module")
def arrays():
  rng = np.random.default_rng(0)
  n = 300
  return dict(mflops=rng.random(n), mparams=rng.random(n),
              encoding=rng.random((n, 4)), latency=rng.random(n))


@pytest.mark.parametrize("name", samplers.SAMPLERS)
def test_deterministic_distinct_and_in_pool(arrays, name):
  pool = np.arange(50, 300)
  a = samplers.sample(name, 20, 3, pool=pool, **arrays)
  b = samplers.sample(name, 20, 3, pool=pool, **arrays)
  np.testing.assert_array_equal(a, b)
  assert len(np.unique(a)) == 20 and np.all(np.isin(a, pool))


def test_flops_sampler_spans_the_range(arrays):
  picks = samplers.sample("flops", 10, 0, pool=np.arange(300), **arrays)
  ranks = np.argsort(np.argsort(arrays["mflops"]))[picks]
  assert sorted(ranks // 30) == list(range(10))  # one per decile bucket


def test_errors(arrays):
  with pytest.raises(ValueError, match="valid: random"):
    samplers.sample("best", 5, 0, pool=np.arange(10), **arrays)
  with pytest.raises(ValueError, match="cannot sample 11"):
    samplers.sample("random", 11, 0, pool=np.arange(10))
