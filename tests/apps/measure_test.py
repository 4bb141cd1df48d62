"""Timing and the resumable measurement: warm-up excluded, positive ms, a CSV adapt.py reads,
resume after an interruption, refusals."""

import json

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from latpred import spaces
from latpred.apps import anchors, measure, measurements, timing
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
  out, plan = tmp_path / "m.csv", measure.Plan("nb201", group=2, anchors=0)
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
  with pytest.raises(measurements.MeasurementError, match=r"needs column\(s\) arch"):
    measurements.read_archs(path, canonical)


def test_anchors_are_spread_over_the_reference_and_avoid_the_measured_list():
  reference = {f"a{i}": float(i + 1) for i in range(10)}
  got = anchors.pick_from_reference(reference, ["a0", "a5"], 4, "ref.csv")
  assert got.archs == ("a2", "a4", "a7", "a9") and got.reference_ms == (3.0, 5.0, 8.0, 10.0)
  assert anchors.pick_from_reference(reference, list(reference), 2, "r").archs == ("a2", "a7")
  with pytest.raises(anchors.AnchorError, match="--anchors=8 or fewer"):
    anchors.pick_from_reference(reference, ["a0", "a1"], 9, "r")
  assert anchors.pick_from_list([f"x{i}" for i in range(6)], 3).archs == ("x1", "x3", "x5")
  assert anchors.pick_from_list(["x0", "x1"], 8).archs == ("x0", "x1")
  # factors: the median ratio to the reference; without one, to each anchor's median over groups
  fixed = anchors.Anchors(("p", "q", "r"), (1.0, 2.0, 4.0), "ref")
  np.testing.assert_allclose(anchors.speed_factors(fixed, [[1.1, 2.0, 5.0], [2, 4, 8]]), [1.1, 2])
  own = anchors.Anchors(("p", "q"), None, "this run")
  np.testing.assert_allclose(anchors.speed_factors(own, [[1, 2], [3, 6]]), [0.5, 1.5])
  with pytest.raises(anchors.AnchorError, match="positive"):
    anchors.speed_factors(fixed, [[1.0, 0.0, 1.0]])


def _drifting(true_ms, speeds, fail_after=None):
  """A time_fn whose every network of group g (one call = one group) takes true_ms[arch] *
  speeds[g]; `builds` are arch names (networks.build patched). Raises on group `fail_after`."""
  calls = []

  def time_fn(builds, settings, seed, log):
    del settings, seed, log
    g = len(calls)
    if g == fail_after:
      raise RuntimeError("interrupted")
    calls.append(list(builds))
    return [timing.Timing(true_ms[a] * speeds[g], 0.0, 0.0, (true_ms[a] * speeds[g],) * 3, 0.01)
            for a in builds]

  time_fn.calls = calls
  return time_fn


@pytest.fixture
def named_builds(monkeypatch):
  monkeypatch.setattr(measure.networks, "build", lambda space, arch, resolution: arch)


def test_a_reference_measurement_puts_a_slower_run_on_its_scale(cells, tmp_path, named_builds):
  space, _ = cells
  names = space.arch_names[:12]
  true_ms = {a: 1.0 + i for i, a in enumerate(names)}
  archs, earlier = names[:4], {a: true_ms[a] for a in names[2:]}  # two measured in both
  plan = measure.Plan("nb201", group=2, anchors=3)
  time_fn, logs = _drifting(true_ms, [1.3, 0.9]), []
  sidecar = measure.measure(archs, tmp_path / "m.csv", plan, reference=earlier,
                            reference_source="earlier.csv", log=logs.append, time_fn=time_fn)
  anchor_archs = sidecar["anchors"]["archs"]
  assert len(anchor_archs) == 3 and not set(anchor_archs) & set(archs)
  assert [b[2:] for b in time_fn.calls] == [anchor_archs] * 2  # timed with every group
  rows = (tmp_path / "m.csv").read_text().splitlines()[1:]
  assert rows == [f"{a},{true_ms[a]:g}" for a in archs]  # the reference's scale
  raw = [r["raw_latency_ms"] for r in sidecar["records"]]
  np.testing.assert_allclose(raw, [1.3, 2.6, 2.7, 3.6])
  assert [r["speed_factor"] for r in sidecar["records"]] == pytest.approx([1.3, 1.3, 0.9, 0.9])
  assert sidecar["anchors"]["reference"] == "earlier.csv" and "speed factor" in sidecar["what"]
  assert any("1.300x the reference" in s for s in logs)
  with pytest.raises(ValueError, match="needs anchors"):
    measure.choose_anchors(archs, measure.Plan("nb201", anchors=0), earlier)


def test_without_a_reference_anchors_align_the_groups_and_survive_a_resume(
    cells, tmp_path, named_builds):
  space, _ = cells
  archs = space.arch_names[:6]
  true_ms = {a: 2.0 + i for i, a in enumerate(archs)}
  plan, out = measure.Plan("nb201", group=3, anchors=2), tmp_path / "m.csv"
  assert measure.choose_anchors(archs[:3], plan) is None  # one group: nothing to align
  with pytest.raises(RuntimeError):
    measure.measure(archs, out, plan, log=lambda s: None,
                    time_fn=_drifting(true_ms, [1.0], fail_after=1))
  second = _drifting(true_ms, [1.5])  # the second group, resumed on a slower machine
  sidecar = measure.measure(archs, out, plan, log=lambda s: None, time_fn=second)
  assert len(second.calls) == 1 and len(sidecar["anchors"]["groups"]) == 2
  got = np.array([float(r.split(",")[1]) for r in out.read_text().splitlines()[1:]])
  np.testing.assert_allclose(got / [true_ms[a] for a in archs], 1.25)  # one scale: the mean
  assert [g["speed_factor"] for g in sidecar["anchors"]["groups"]] == pytest.approx([0.8, 1.2])


def test_read_latencies_checks_every_row_without_the_spaces_data(tmp_path):
  a = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
  b = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"
  canonical = lambda x: spaces.canonical("nb201", x)  # noqa: E731
  path = tmp_path / "earlier.csv"
  path.write_text(f"arch,latency_ms\n{a},1.5\n{b},2\n")
  assert measurements.read_latencies(path, canonical) == {a: 1.5, b: 2.0}
  path.write_text(f"arch,latency_ms\n{a},-1\n{a},2\n{b},x\n")
  with pytest.raises(measurements.MeasurementError,
                     match=r"3 problem\(s\):\n  row 2: .*not positive\n  row 3: the same.*\n"
                           r"  row 4: .*not a number"):
    measurements.read_latencies(path, canonical)
  path.write_text(f"arch\n{a}\n")
  with pytest.raises(measurements.MeasurementError, match=r"needs column\(s\) latency_ms"):
    measurements.read_latencies(path, canonical)
