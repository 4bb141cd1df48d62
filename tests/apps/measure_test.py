"""Timing and the resumable measurement: warm-up excluded, positive ms, a CSV adapt.py reads,
resume after an interruption, refusals."""

import json

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from latpred import networks
from latpred.apps import measure, measurements, timing
from latpred.spaces import load_space


class _Tiny(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(3)(x.reshape(x.shape[0], -1))


def test_time_calls_excludes_the_warmup_and_waits_for_each_call():
  calls, ticks = [], iter(range(1000))
  settings = timing.Settings(warmup=4, repeats=3, rounds=2)
  rounds = timing.time_calls(lambda: calls.append(1) or jnp.ones(2), settings,
                             clock=lambda: float(next(ticks)))
  assert len(calls) == 4 + 3 * 2  # warm-up calls run, untimed
  assert [len(r) for r in rounds] == [3, 3]
  assert all(t == 1000.0 for r in rounds for t in r)  # one clock tick (s) per call, in ms


def test_time_network_on_a_tiny_network():
  t = timing.time_network(_Tiny(), (4, 4, 2), timing.Settings(warmup=1, repeats=5, rounds=2))
  assert t.latency_ms > 0 and t.q25_ms <= t.latency_ms <= t.q75_ms
  assert len(t.round_ms) == 2 and t.compile_s > 0 and t.disagreement >= 0
  with pytest.raises(ValueError, match="repeats"):
    timing.Settings(repeats=0)


def _fake(latencies):
  """A time_fn returning the given latencies (ms) in turn, counting its calls."""
  seq = iter(latencies)

  def time_fn(model, image_shape, settings, seed):
    del model, image_shape, settings, seed
    time_fn.calls += 1
    value = next(seq, None)
    if value is None:
      raise RuntimeError("interrupted")
    rounds = value if isinstance(value, tuple) else (value,) * 3
    return timing.Timing(float(np.median(rounds)), min(rounds), max(rounds), rounds, 0.01)

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
                      max_disagreement=10.0)
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
  out, plan = tmp_path / "m.csv", measure.Plan("nb201")
  first = _fake([1.0, 2.0])  # the third call raises: the "crash"
  with pytest.raises(RuntimeError):
    measure.measure(archs, out, plan, log=lambda s: None, time_fn=first)
  assert not out.exists() and not measure.sidecar_path(out).exists()
  assert len(measure.partial_path(out).read_text().splitlines()) == 1 + 2
  with open(measure.partial_path(out), "a") as f:
    f.write('{"arch": "torn')  # a crash in the middle of a write
  logs, second = [], _fake([3.0, 4.0])
  measure.measure(archs, out, plan, log=logs.append, time_fn=second)
  assert second.calls == 2 and any("resuming: 2 of 4" in s for s in logs)
  rows = out.read_text().splitlines()
  assert rows == ["arch,latency_ms"] + [f"{a},{v:g}" for a, v in zip(archs, (1, 2, 3, 4))]


def test_a_different_plan_does_not_resume(cells, tmp_path):
  _, archs = cells
  out = tmp_path / "m.csv"
  with pytest.raises(RuntimeError):
    measure.measure(archs, out, measure.Plan("nb201"), log=lambda s: None, time_fn=_fake([1.0]))
  with pytest.raises(measure.MeasureError, match="different plan"):
    measure.measure(archs, out, measure.Plan("nb201", timing=timing.Settings(batch=8)),
                    log=lambda s: None, time_fn=_fake([1.0] * 4))


def test_disagreeing_rounds_are_retried_then_warned_or_refused(cells, tmp_path):
  _, archs = cells
  noisy = (1.0, 1.5, 1.0)  # rounds disagree by 50 %
  logs, time_fn = [], _fake([noisy, (1.0, 1.01, 1.0)] + [1.0] * 3)
  measure.measure(archs, tmp_path / "a.csv", measure.Plan("nb201"), log=logs.append,
                  time_fn=time_fn)
  assert time_fn.calls == 5 and not any("warning" in s for s in logs)  # the retry agreed
  time_fn = _fake([noisy] * 3 + [1.0] * 3)
  sidecar = measure.measure(archs, tmp_path / "b.csv", measure.Plan("nb201", retries=2),
                            log=logs.append, time_fn=time_fn)
  assert sidecar["flagged"] == 1 and any("disagree by 50.0%" in s for s in logs)
  with pytest.raises(measure.MeasureError, match="Refused"):
    measure.measure(archs, tmp_path / "c.csv", measure.Plan("nb201", on_disagreement="refuse"),
                    log=lambda s: None, time_fn=_fake([noisy] * 3))


def test_read_archs_reports_every_bad_row(tmp_path):
  path = tmp_path / "to_measure.csv"
  good = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
  path.write_text(f"arch\n{good}\n|bogus~0|\n{good}\n")
  canonical = lambda a: networks.canonical("nb201", a)  # noqa: E731
  with pytest.raises(measurements.MeasurementError, match=r"row 3: .*\n  row 4: the same"):
    measurements.read_archs(path, canonical)
  path.write_text("ops\nx\n")
  with pytest.raises(measurements.MeasurementError, match="needs an arch column"):
    measurements.read_archs(path, canonical)
