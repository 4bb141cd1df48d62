"""Runs.map: the host threads that dispatch independent runs."""

import threading

import pytest

from latpred.train import mesh


def test_map_keeps_the_order_and_uses_the_threads():
  seen = set()
  barrier = threading.Barrier(2, timeout=10)  # both calls in flight at once, or a timeout

  def fn(x):
    seen.add(threading.current_thread().name)
    if x < 2:
      barrier.wait()
    return x * x

  assert mesh.Runs(threads=2).map(fn, range(5)) == [0, 1, 4, 9, 16]
  assert len(seen) == 2 and all(n.startswith("latpred-run") for n in seen)
  main = []
  assert mesh.Runs().map(lambda x: main.append(threading.current_thread()) or x, [3]) == [3]
  assert main == [threading.main_thread()]


def test_map_raises_the_first_error_and_threads_must_be_positive():
  def fn(x):
    if x == 2:
      raise FloatingPointError("non-finite loss at epoch 3")
    return x

  with pytest.raises(FloatingPointError, match="epoch 3"):
    mesh.Runs(threads=2).map(fn, range(4))
  with pytest.raises(ValueError, match="threads must be >= 1"):
    mesh.Runs(threads=0)
