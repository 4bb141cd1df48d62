"""Timing and the resumable measurement: warm-up excluded, positive ms, a CSV adapt.py reads,
resume after an interruption, refusals."""

import json

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from latpred import spaces
from latpred.apps import measure, measurements, timing
from latpred.spaces import load_space


class _Tiny(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(3)(x.reshape(x.shape[0], -1))


def test_time_calls_interleaves_rounds_and_excludes_the_warmup():
  calls, ticks = [], iter(range(1000))
  settings = timing.Settings(warmup=2, repeats=3, rounds=4)
  make = lambda name: (lambda: calls.append(name) or jnp.ones(2))  # noqa: E731
  rounds = timing.time_calls([make("a"), make("b")], settings, clock=lambda: float(next(ticks)))
  assert len(calls) == 2 * 4 * (2 + 3)  # warm-up calls run, untimed
  per_round = [calls[i:i + 10] for i in range(0, len(calls), 10)]
  assert all(sorted(set(r)) == ["a", "b"] and len(set(r[:5])) == 1 for r in per_round)
  assert [[len(r) for r in net] for net in rounds] == [[3] * 4] * 2
  assert all(t == 1000.0 for net in rounds for r in net for t in r)  # one tick (s) per call


def test_summarize_takes_the_median_of_round_medians():
  t = timing.summarize([[1.0, 2.0, 9.0], [3.0, 3.0, 3.0], [2.0, 2.5, 2.0]], compile_s=0.5)
  assert t.round_ms == (2.0, 3.0, 2.0) and t.latency_ms == 2.0
  assert t.uncertainty == 0.0  # two of three rounds equal: no deviation from the median
  assert timing.summarize([[4.0]], 0.1).uncertainty == 0.0
  # one wild round barely moves it; a spread of every round does
  calm = timing.robust_uncertainty([10.0, 10.2, 9.8, 10.1, 9.9, 30.0])
  assert calm == pytest.approx(1.2533 * 1.4826 * 0.15 / np.sqrt(6) / 10.05, rel=1e-6)
  assert timing.robust_uncertainty([5.0, 10.0, 15.0, 20.0]) > 0.2


def test_time_networks_on_tiny_networks():
  builds = [(_Tiny(), (4, 4, 2)), (_Tiny(), (8, 8, 1))]
  timings = timing.time_networks(builds, timing.Settings(warmup=1, repeats=5, rounds=2))
  for t in timings:
    assert t.latency_ms > 0 and t.q25_ms <= t.q75_ms
    assert len(t.round_ms) == 2 and t.compile_s > 0 and t.uncertainty >= 0
  with pytest.raises(ValueError, match="repeats"):
    timing.Settings(repeats=0)


def _fake(latencies):
  """A time_fn returning one Timing per network from the given latencies (ms) in turn, counting
  the networks it timed; raises when they run out (an interruption)."""
  seq = iter(latencies)

  def time_fn(builds, settings, seed, log):
    del settings, seed, log
    out = []
    for _ in builds:
      value = next(seq, None)
      if value is None:
        raise RuntimeError("interrupted")
      rounds = value if isinstance(value, tuple) else (value,) * 3
      out.append(timing.Timing(float(np.median(rounds)), min(rounds), max(rounds), rounds, 0.01))
    time_fn.calls += len(builds)
    return out

  time_fn.calls = 0
  return time_fn


@pytest.fixture(scope="module")
def cells(data_dir):
  space = load_space("nb201", data_dir)
  return space, [space.arch_names[i] for i in (5, 500, 5000, 9000)]


def test_measure_real_networks_writes_a_csv_adapt_reads(cells, tmp_path):
  space, archs = cells
  out = tmp_path / "my_device.csv"
  plan = measure.Plan("nb201", timing=timing.Settings(warmup=1, repeats=3, rounds=2),
                      max_uncertainty=10.0)
  sidecar = measure.measure(archs[:3], out, plan, log=lambda s: None)
  got = measurements.read_measurements(out, space)
  np.testing.assert_array_equal(got.arch_idx, space.indices_of(archs[:3]))
  assert (got.latency_ms > 0).all()
  meta = json.loads(measure.sidecar_path(out).read_text())
  assert meta == json.loads(json.dumps(sidecar))
  assert meta["backend"] == "cpu" and meta["plan"]["timing"]["batch"] == 1
  assert {"jax", "flax", "numpy"} <= set(meta["versions"]) and meta["date"]
  assert [r["arch"] for r in meta["records"]] == archs[:3]
  assert not measure.partial_path(out).exists()
  with pytest.raises(FileExistsError):
    measure.measure(archs[:3], out, plan, log=lambda s: None)


def test_an_interrupted_measurement_resumes_and_writes_nothing_partial(cells, tmp_path):
  _, archs = cells
  out, plan = tmp_path / "m.csv", measure.Plan("nb201", group=2)
  first = _fake([1.0, 2.0, 3.0])  # the second group runs out: the "crash"
  with pytest.raises(RuntimeError):
    measure.measure(archs, out, plan, log=lambda s: None, time_fn=first)
  assert not out.exists() and not measure.sidecar_path(out).exists()
  assert len(measure.partial_path(out).read_text().splitlines()) == 1 + 2
  with open(measure.partial_path(out), "a") as f:
    f.write('{"arch": "torn')  # a crash in the middle of a write
  assert len(measure._resume(measure.partial_path(out), measure._header(plan, archs),
                             lambda s: None)) == 2
  assert measure.partial_path(out).read_text().endswith("}\n")  # the torn line is gone
  logs, second = [], _fake([3.0, 4.0])
  measure.measure(archs, out, plan, log=logs.append, time_fn=second)
  assert second.calls == 2 and any("resuming: 2 of 4" in s for s in logs)
  rows = out.read_text().splitlines()
  assert rows == ["arch,latency_ms"] + [f"{a},{v:g}" for a, v in zip(archs, (1, 2, 3, 4))]


def test_a_different_plan_does_not_resume(cells, tmp_path):
  _, archs = cells
  out = tmp_path / "m.csv"
  with pytest.raises(RuntimeError):
    measure.measure(archs, out, measure.Plan("nb201", group=1), log=lambda s: None,
                    time_fn=_fake([1.0]))
  with pytest.raises(measure.MeasureError, match="different plan"):
    measure.measure(archs, out, measure.Plan("nb201", group=1, timing=timing.Settings(batch=8)),
                    log=lambda s: None, time_fn=_fake([1.0] * 4))


def test_noisy_networks_are_flagged_or_refused(cells, tmp_path):
  _, archs = cells
  noisy = (1.0, 1.5, 1.0, 2.0)  # robust uncertainty: 19 %
  logs = []
  sidecar = measure.measure(archs, tmp_path / "a.csv", measure.Plan("nb201"), log=logs.append,
                            time_fn=_fake([noisy] + [1.0] * 3))
  assert sidecar["flagged"] == 1 and sidecar["records"][0]["flagged"]
  assert any("1 network(s) with uncertainty above 10%" in s for s in logs)
  out = tmp_path / "b.csv"
  with pytest.raises(measure.MeasureError, match="1 noisy architecture"):
    measure.measure(archs, out, measure.Plan("nb201", on_noisy="refuse"), log=lambda s: None,
                    time_fn=_fake([1.0, noisy, 1.0, 1.0]))
  assert len(measure.partial_path(out).read_text().splitlines()) == 1 + 3  # the others kept


def test_read_archs_reports_every_bad_row(tmp_path):
  path = tmp_path / "to_measure.csv"
  good = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
  path.write_text(f"arch\n{good}\n|bogus~0|\n{good}\n")
  canonical = lambda a: spaces.canonical("nb201", a)  # noqa: E731
  with pytest.raises(measurements.MeasurementError, match=r"row 3: .*\n  row 4: the same"):
    measurements.read_archs(path, canonical)
  path.write_text("ops\nx\n")
  with pytest.raises(measurements.MeasurementError, match="needs an arch column"):
    measurements.read_archs(path, canonical)
