"""The new-device workflow: suggest architectures to measure, then adapt to the measurements.

  1. suggest(...)       -> which architectures to measure (experiments/suggest.py)
  2. (the user measures them on the device: arch,latency_ms in milliseconds)
  3. adapt_device(...)  -> predictions for every architecture, an adapted checkpoint and a report
                           (experiments/adapt.py)
"""

import csv
import json
import os
import pathlib
import shutil
import tempfile
import time

import numpy as np

from latpred import metrics
from latpred.adapt import transfer
from latpred.apps.measurements import (
  LATENCY_COLUMN,
  MeasurementError,
  read_archs,
  read_header,
  read_measurements,
  write_measurements,
  write_predictions,
  write_suggestions,
)
from latpred.model import build
from latpred.predict import LatencyPredictor
from latpred.protocol import samplers
from latpred.spaces import encodings, fbnet, load_space, nb201

ORACLE_SAMPLERS = ("latency",)  # need the device's latencies, which a new device does not have


def suggest(config, space_name: str, num: int, sampler: str, seed: int, out,
            candidates=None) -> np.ndarray:
  """Writes `out` (CSV) with `num` architectures of the space to measure; returns their indices.

  The encoding-based samplers use the config's supplementary encoding for the space (FLOPs and
  params where it has none), as the runner does for target samples. `candidates`: a CSV with an
  `arch` column to pick from instead of the whole space; when it also has `latency_ms` (e.g.
  architectures already measured), `out` gets the picks' `arch,latency_ms` rows, ready for
  adapt_device.
  """
  if sampler in ORACLE_SAMPLERS:
    raise ValueError(f"sampler {sampler!r} is an oracle (it reads the device's latencies); "
                     f"choose one of {', '.join(s for s in samplers.SAMPLERS if s != sampler)}")
  data_dir = config.data.data_dir or None
  space = load_space(space_name, data_dir, config.data.graph_variant)
  enc = build.sampler_encoding(
      space, encodings.encoding(space, build.encoding_spec(config.model, space_name), data_dir))
  pool, measured = np.arange(space.num_archs), None
  if candidates:
    pool = space.indices_of(read_archs(candidates, space.canonical))
    if len(pool) < num:
      raise ValueError(f"{candidates}: {len(pool)} candidates, fewer than the {num} to pick")
    if LATENCY_COLUMN in read_header(candidates):
      measured = read_measurements(candidates, space, duplicates="refuse")
  idx = samplers.sample(sampler, num, seed, pool=pool,
                        mflops=space.mflops_A, mparams=space.mparams_A, encoding=enc)
  if measured is None:
    write_suggestions(out, space, idx)
  else:  # the picks' measured latencies: adapt.py's input as it is
    by_arch = dict(zip(measured.arch_idx.tolist(), measured.latency_ms.tolist()))
    write_measurements(out, space, idx, [by_arch[int(i)] for i in idx])
  return idx


def _other_space_hint(path, space_name: str) -> str:
  """A hint naming the other space if the file's first arch parses there, else ''."""
  try:
    with open(path, newline="") as f:
      first = next(csv.DictReader(f), {}) or {}
    arch = (first.get("arch") or "").strip()
    other = "fbnet" if space_name == "nb201" else "nb201"
    (fbnet.parse if other == "fbnet" else nb201.parse)(arch)
  except (ValueError, OSError, StopIteration):
    return ""
  return (f"\nThe measurements look like {other} architectures, but the checkpoint is for "
          f"{space_name}: use a {other} checkpoint (experiments/pretrain.py "
          f"--config.data.space={other}).")


def _fresh_output_dir(out: pathlib.Path) -> None:
  if out.exists() and (not out.is_dir() or any(out.iterdir())):
    raise FileExistsError(f"{out} exists and is not empty; choose a new --out")


def adapt_device(pretrained, measurements, out, *, device: str = "my_device",
                 duplicates: str = "average", trial: int = 0, seed: int = 0, space: str = "",
                 data_dir=None, log=print) -> dict:
  """Adapts a pretrained checkpoint to a device's measurements; writes `out`/predictions.csv,
  `out`/checkpoint (adapted, `LatencyPredictor.load` reads it), `out`/report.json and .md.

  Every input is checked before anything is written, and the outputs appear in `out` only once
  all of them are complete (written to a temporary folder beside it, then renamed).
  Returns the report.
  """
  out = pathlib.Path(out)
  _fresh_output_dir(out)
  t0 = time.time()
  predictor = LatencyPredictor.load(pretrained, trial=trial, data_dir=data_dir)
  if space and space != predictor.space.name:
    raise ValueError(f"{pretrained} is a {predictor.space.name} checkpoint, not {space}")
  if device in predictor.train_hw:
    raise ValueError(f"device name {device!r} is one of the checkpoint's training devices; "
                     "name your device differently")
  try:
    meas = read_measurements(measurements, predictor.space, duplicates)
  except MeasurementError as e:
    raise MeasurementError(str(e) + _other_space_hint(measurements, predictor.space.name)) \
        from None
  load_s = time.time() - t0
  archs = [predictor.space.arch_names[i] for i in meas.arch_idx]
  log(f"adapting to {device} from {meas.num} measured architectures "
      f"({meas.rows} rows; checkpoint {predictor.space.name}, "
      f"{len(predictor.members)} ensemble member(s))")
  t1 = time.time()
  adapted = predictor.adapt(device, archs, meas.latency_ms, seed=seed)
  adapt_s = time.time() - t1
  t2 = time.time()
  predicted = adapted.predict_ms_indices(np.arange(predictor.space.num_archs), device)
  predict_s = time.time() - t2
  ens = adapted.adapted[device]
  # the training device whose row adaptation copies (with transfer.copy_synthetic the copy may
  # be a synthetic device's instead; this stays the most similar real one)
  num_train = len(predictor.train_hw)
  train_lat_HxM = adapted.stack_basis()[meas.arch_idx, :num_train].T
  nearest = transfer.most_correlated_hw(meas.latency_ms, train_lat_HxM, np.arange(num_train))
  resembled, train_lat = predictor.train_hw[nearest], train_lat_HxM[nearest]
  report = {
      "device": device, "space": predictor.space.name, "pretrained": str(pretrained),
      "measurement_rows": meas.rows, "distinct_architectures": meas.num,
      "most_similar_training_device": resembled,
      "most_similar_device_spearman_on_measurements": metrics.spearman(train_lat,
                                                                       meas.latency_ms),
      "leave_one_out_spearman": adapted.loo_spearman(device),
      "stack_weights": (None if ens.stack is None else
                        ens.stack.named_weights(predictor.stack_columns())),
      "predicted_latency_ms": {"min": float(predicted.min()),
                               "median": float(np.median(predicted)),
                               "max": float(predicted.max()),
                               "not_positive": int((predicted <= 0).sum())},
      "wall_time_s": {"load": load_s, "adapt": adapt_s, "predict_all": predict_s},
  }
  made = [p for p in reversed(out.resolve().parents) if not p.exists()]
  out.parent.mkdir(parents=True, exist_ok=True)  # the temporary folder must sit beside `out`
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
  try:
    write_predictions(tmp / "predictions.csv", predictor.space, predicted)
    adapted.save_adapted(tmp / "checkpoint", device)
    (tmp / "report.json").write_text(json.dumps(report, indent=2))
    (tmp / "report.md").write_text(report_markdown(report))
    if out.exists():
      out.rmdir()  # empty (checked above)
    os.replace(tmp, out)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    for p in reversed(made):  # folders created above for `out`, innermost first
      try:
        p.rmdir()
      except OSError:
        break
    raise
  return report


def _not_positive(r: dict) -> str:
  """A warning for predictions at or below 0 ms (the stack's intercept can be negative and its
  predictions are not floored), '' when there are none."""
  n = r["predicted_latency_ms"].get("not_positive", 0)
  return (f"\n- **warning**: {n} architecture(s) predicted at or below 0 ms (the stack's "
          "intercept is negative; rank them, do not read their milliseconds)") if n else ""


def report_markdown(r: dict) -> str:
  loo = r["leave_one_out_spearman"]
  loo_text = "n/a (the config does not stack)" if loo != loo else f"{loo:.3f}"
  lines = [
      f"# {r['device']}: adapted latency predictor ({r['space']})", "",
      f"- measurements: {r['measurement_rows']} rows, {r['distinct_architectures']} distinct "
      "architectures",
      f"- most similar training device: {r['most_similar_training_device']} (Spearman "
      f"{r['most_similar_device_spearman_on_measurements']:.3f} on your measurements)",
      f"- leave-one-out Spearman over your measurements: {loo_text} (each row predicted by the "
      "stack refitted without it, on the cross-fitted GNN column)",
      f"- predicted latency (ms) over the space: min {r['predicted_latency_ms']['min']:.3f}, "
      f"median {r['predicted_latency_ms']['median']:.3f}, "
      f"max {r['predicted_latency_ms']['max']:.3f}" + _not_positive(r),
      f"- wall time (s): load {r['wall_time_s']['load']:.1f}, adapt "
      f"{r['wall_time_s']['adapt']:.1f}, predict all {r['wall_time_s']['predict_all']:.1f}",
  ]
  if r["stack_weights"]:
    lines += ["", "| stack column | weight |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in r["stack_weights"].items() if v > 0]
  return "\n".join(lines) + "\n"
