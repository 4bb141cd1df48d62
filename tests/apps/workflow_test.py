"""The new-device workflow on real files: suggest -> (measure) -> adapt, and every input error."""

import csv
import json

import numpy as np
import pytest
from conftest import SMOKE_TRAIN_HW  # noqa: E402

from configs import nasflat
from latpred.apps import workflow
from latpred.apps.measurements import MeasurementError, read_measurements
from latpred.data import load_latency_table
from latpred.predict import LatencyPredictor
from latpred.protocol import runner
from latpred.spaces import encodings, load_space

TRAIN = ",".join(SMOKE_TRAIN_HW)


def _write(path, rows, header=("arch", "latency_ms")):
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    if header:
      w.writerow(header)
    w.writerows(rows)
  return path


@pytest.fixture(scope="module")
def nb(data_dir):
  return load_space("nb201", data_dir)


@pytest.fixture(scope="module")
def pretrained(smoke_pretrained):
  return smoke_pretrained


@pytest.fixture(scope="module")
def fpga_rows(data_dir, nb):
  truth = load_latency_table("nb201", data_dir).latency_ms("fpga")
  idx = np.arange(7, 15625, 781)[:20]
  return [(nb.arch_names[i], f"{truth[i]:.6f}") for i in idx], idx, truth


def test_suggest_writes_distinct_architectures_and_refuses_the_oracle(data_dir, tmp_path, nb):
  config = nasflat.get_config()
  config.data.data_dir = str(data_dir)
  out = tmp_path / "to_measure.csv"
  idx = workflow.suggest(config, "nb201", 12, "kmeans", 0, out)
  rows = list(csv.DictReader(open(out)))
  assert [r["arch"] for r in rows] == [nb.arch_names[i] for i in idx]
  assert len(set(idx.tolist())) == 12
  np.testing.assert_array_equal(idx, workflow.suggest(config, "nb201", 12, "kmeans", 0,
                                                      tmp_path / "again.csv"))
  fb = workflow.suggest(config, "fbnet", 5, "random", 1, tmp_path / "fb.csv")
  fb_rows = list(csv.DictReader(open(tmp_path / "fb.csv")))
  assert len(fb) == 5 and len(fb_rows[0]["ops"].split()) == 22
  with pytest.raises(ValueError, match="oracle"):
    workflow.suggest(config, "nb201", 5, "latency", 0, tmp_path / "x.csv")


def test_suggest_picks_among_candidates(data_dir, tmp_path, nb):
  config = nasflat.get_config()
  config.data.data_dir = str(data_dir)
  candidates = tmp_path / "measured.csv"
  pool = np.arange(3, 15625, 97)[:40]
  candidates.write_text("arch,latency_ms\n" + "".join(f"{nb.arch_names[i]},1.0\n" for i in pool))
  idx = workflow.suggest(config, "nb201", 10, "kmeans", 0, tmp_path / "s.csv", candidates)
  assert len(set(idx.tolist())) == 10 and set(idx.tolist()) <= set(pool.tolist())
  with pytest.raises(ValueError, match="fewer than the 50"):
    workflow.suggest(config, "nb201", 50, "kmeans", 0, tmp_path / "t.csv", candidates)
  picked = read_measurements(tmp_path / "s.csv", nb)  # the picks keep their latency_ms
  np.testing.assert_array_equal(picked.arch_idx, idx)
  np.testing.assert_array_equal(picked.latency_ms, np.ones(10))
  candidates.write_text("arch\n" + "".join(f"{nb.arch_names[i]}\n" for i in pool))
  workflow.suggest(config, "nb201", 10, "kmeans", 0, tmp_path / "u.csv", candidates)
  assert open(tmp_path / "u.csv").readline().strip() == "arch"


@pytest.mark.parametrize("rows, message", [
    ([("|nor_conv_3x3~0|+|bogus~0|", "1.0")], r"row 2: .*bogus"),
    ([("", "1.0")], r"row 2: arch is empty"),
    ([("@A", "")], r"row 2: latency_ms is missing"),
    ([("@A", "fast")], r"row 2: latency_ms 'fast' is not a number"),
    ([("@A", "nan")], r"row 2: latency_ms 'nan' is not finite"),
    ([("@A", "0")], r"row 2: latency_ms '0' is not positive"),
    ([("@A", "-3")], r"row 2: latency_ms '-3' is not positive"),
    ([("@A", "1"), ("@B", "2")], r"2 distinct architecture\(s\); adaptation needs at least 3"),
])
def test_bad_measurement_rows_are_refused_with_row_numbers(tmp_path, nb, rows, message):
  names = {"@A": nb.arch_names[1], "@B": nb.arch_names[2]}
  rows = [(names.get(a, a), v) for a, v in rows]
  path = _write(tmp_path / "m.csv", rows)
  with pytest.raises(MeasurementError, match=message):
    read_measurements(path, nb)


def test_every_problem_is_listed_and_header_and_file_are_checked(tmp_path, nb):
  rows = [(nb.arch_names[i], "1.0") for i in range(5)] + [("x", "1"), (nb.arch_names[9], "-1")]
  with pytest.raises(MeasurementError, match=r"2 problem\(s\)[\s\S]*row 7[\s\S]*row 8"):
    read_measurements(_write(tmp_path / "m.csv", rows), nb)
  with pytest.raises(MeasurementError, match="missing latency_ms"):
    read_measurements(_write(tmp_path / "h.csv", rows, header=("arch", "ms")), nb)
  with pytest.raises(MeasurementError, match="no such file"):
    read_measurements(tmp_path / "absent.csv", nb)


def test_fbnet_well_formed_but_unmeasured_arch_is_refused(data_dir, tmp_path):
  fb = load_space("fbnet", data_dir)
  rows = [(fb.arch_names[i], "3.0") for i in range(3)] + [("_".join(["8"] * 22), "1.0")]
  with pytest.raises(MeasurementError, match="row 5: .*not among the 5000"):
    read_measurements(_write(tmp_path / "m.csv", rows), fb)
  # op lists and op names are accepted as well as '_'-joined ids
  spaced = " ".join(fb.arch_names[7].split("_"))
  m = read_measurements(_write(tmp_path / "ok.csv", rows[:3] + [(f"[{spaced}]", "2.0")]), fb)
  assert m.arch_idx.tolist() == [0, 1, 2, 7]


def test_duplicates_are_averaged_with_a_warning_or_refused(tmp_path, nb):
  a, b, c = nb.arch_names[1:4]
  path = _write(tmp_path / "m.csv", [(a, "1.0"), (b, "2.0"), (a, "3.0"), (c, "4.0")])
  with pytest.warns(UserWarning, match="averaged"):
    m = read_measurements(path, nb)
  assert m.rows == 4 and m.num == 3
  assert m.latency_ms[m.arch_idx.tolist().index(1)] == pytest.approx(2.0)
  with pytest.raises(MeasurementError, match="rows 2, 4: the same architecture"):
    read_measurements(path, nb, duplicates="refuse")


def test_adapt_device_end_to_end_and_reload(pretrained, data_dir, tmp_path, fpga_rows, nb):
  rows, idx, truth = fpga_rows
  csv_path = _write(tmp_path / "fpga.csv", rows)
  out = tmp_path / "out"
  report = workflow.adapt_device(pretrained, csv_path, out, device="board", data_dir=data_dir,
                                 log=lambda *_: None)
  preds = list(csv.DictReader(open(out / "predictions.csv")))
  assert len(preds) == nb.num_archs and list(preds[0]) == ["arch", "predicted_latency_ms", "rank"]
  ms = np.array([float(p["predicted_latency_ms"]) for p in preds])
  ranks = np.array([int(p["rank"]) for p in preds])
  assert sorted(ranks.tolist()) == list(range(1, nb.num_archs + 1))
  assert ms[ranks.argmin()] == ms.min() and np.all(np.isfinite(ms))
  saved = json.loads((out / "report.json").read_text())
  assert saved["distinct_architectures"] == 20
  assert saved["most_similar_training_device"] in TRAIN.split(",")
  assert saved["leave_one_out_spearman"] > 0.8  # fpga: the stack ranks its own samples well
  assert set(saved["stack_weights"]) == {"gnn_ms", *TRAIN.split(","), "mflops", "mparams",
                                         "compute_ops", "kernels", "activations"}
  assert "leave-one-out" in (out / "report.md").read_text() and report["device"] == "board"
  assert saved["predicted_latency_ms"]["not_positive"] == int((ms <= 0).sum())
  negative = dict(saved, predicted_latency_ms=dict(saved["predicted_latency_ms"], not_positive=7))
  assert "7 architecture(s) predicted at or below 0 ms" in workflow.report_markdown(negative)
  assert "at or below 0 ms" not in workflow.report_markdown(
      dict(saved, predicted_latency_ms=dict(saved["predicted_latency_ms"], not_positive=0)))
  # The adapted checkpoint loads back adapted and predicts the same milliseconds.
  again = LatencyPredictor.load(out / "checkpoint", data_dir=data_dir)
  np.testing.assert_allclose(again.predict_ms(nb.arch_names[:50], "board"), ms[:50], rtol=1e-4)
  with pytest.raises(FileExistsError, match="not empty"):
    workflow.adapt_device(pretrained, csv_path, out, data_dir=data_dir)


def _fails_without_writing(tmp_path, match, *args, **kwargs):
  out = tmp_path / "never"
  with pytest.raises((ValueError, FileNotFoundError), match=match):
    workflow.adapt_device(*args, out, log=lambda *_: None, **kwargs)
  assert not out.exists()
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_adapt_device_input_errors_write_nothing(pretrained, data_dir, tmp_path, fpga_rows,
                                                monkeypatch):
  rows, _, _ = fpga_rows
  good = _write(tmp_path / "good.csv", rows)
  bad = _write(tmp_path / "bad.csv", rows[:5] + [(rows[5][0], "NaN")])
  _fails_without_writing(tmp_path, "row 7: latency_ms 'NaN' is not finite", pretrained, bad,
                         data_dir=data_dir)
  fb = load_space("fbnet", data_dir)
  fb_csv = _write(tmp_path / "fb.csv", [(fb.arch_names[i], "2.0") for i in range(5)])
  _fails_without_writing(tmp_path, "look like fbnet architectures", pretrained, fb_csv,
                         data_dir=data_dir)
  _fails_without_writing(tmp_path, "is a nb201 checkpoint, not fbnet", pretrained, good,
                         space="fbnet", data_dir=data_dir)
  _fails_without_writing(tmp_path, "training devices", pretrained, good, device="pixel3",
                         data_dir=data_dir)
  _fails_without_writing(tmp_path, "no latpred checkpoint", tmp_path / "nothing", good,
                         data_dir=data_dir)
  monkeypatch.setattr(encodings, "VERSION", encodings.VERSION + 1)
  _fails_without_writing(tmp_path, "encoding version", pretrained, good, data_dir=data_dir)


def test_pretrain_rejects_unknown_devices_and_missing_space(data_dir, tmp_path):
  config = nasflat.get_config("smoke")
  config.data.data_dir = str(data_dir)
  with pytest.raises(ValueError, match="needs --config.data.space"):
    runner.pretrain(config, tmp_path)
  config.data.space, config.data.train_hw = "nb201", "pixel3,tpu_v9"
  with pytest.raises(ValueError, match="tpu_v9.*valid: "):
    runner.pretrain(config, tmp_path)


def test_spreadsheet_utf8_with_bom_is_read(tmp_path, nb):
  a, b, c = nb.arch_names[1:4]
  text = "arch,latency_ms\r\n" + "".join(f"{x},{v}\r\n" for x, v in ((a, 1.5), (b, 2.5), (c, 3)))
  path = tmp_path / "excel.csv"
  path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # what "CSV UTF-8" exports write
  m = read_measurements(path, nb)
  assert m.arch_idx.tolist() == [1, 2, 3] and m.latency_ms.tolist() == [1.5, 2.5, 3.0]


def test_undecodable_bytes_name_the_file_and_row(tmp_path, nb):
  a, b = nb.arch_names[1:3]
  path = tmp_path / "latin1.csv"
  path.write_bytes(f"arch,latency_ms\n{a},1.0\n{b},2.0 \xb5s\n".encode("latin-1"))
  with pytest.raises(MeasurementError, match=r"latin1.csv: row 3 is not UTF-8 text \(byte 0xb5\)"):
    read_measurements(path, nb)


def test_latencies_that_look_like_seconds_are_warned_about(tmp_path, nb):
  rows = [(nb.arch_names[i], f"{0.004 + 0.001 * i:.4f}") for i in range(1, 6)]
  with pytest.warns(UserWarning, match="seconds"):
    m = read_measurements(_write(tmp_path / "s.csv", rows), nb)
  assert m.num == 5  # used as given: only a warning
