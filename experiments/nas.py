"""HELP's latency-constrained NAS on NB201 (500 MetaD2A candidates) with the adapted predictor.

  python experiments/nas.py --workdir=out/nas [--pretrained=out/bench/nasflat/ND/pretrained]
  python experiments/nas.py --workdir=out/nas_cal --calibrate [--pretrained=...]
  python experiments/nas.py --workdir=out/cmp --compare="HELP's rule=out/nas,verified=out/nas_cal"

Pretrains on ND's training devices (which exclude every target) unless --pretrained names such a
checkpoint, then for titan_rtx_256, gold_6226, pixel2, eyeriss, fpga at HELP's budgets, 10 and 20
samples and 5 seeds, writes WORKDIR/nas.json, nas.md (beside HELP's published results) and
pareto_<device>.png.

--calibrate chooses the strategy per sample count first (verify count x safety quantile, grids
latpred.nas.verify_grid x QUANTILE_GRID), on NB201 devices that are never a NAS target
(latpred.nas.TUNING_DEVICES; WORKDIR/calibration.md), then runs the targets with it.

--compare writes WORKDIR/compare.md, one table of earlier runs (name=workdir, comma-separated;
each workdir's nas.json) beside HELP's published results, and runs nothing else.
"""

import json
import pathlib
import sys
import warnings

from absl import app, flags, logging
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.apps import nas, nas_tables  # noqa: E402
from latpred.protocol import config as config_lib  # noqa: E402

_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder.", required=True)
_PRETRAINED = flags.DEFINE_string("pretrained", None, "ND-pretrained checkpoint folder "
                                  "(default WORKDIR/pretrained, trained if absent).")
_DEVICES = flags.DEFINE_list("devices", list(nas.HELP_RESULTS), "Target devices.")
_SAMPLES = flags.DEFINE_list("num_samples", ["10", "20"], "Measured samples per target.")
_SEEDS = flags.DEFINE_integer("seeds", 5, "Seeds (sample draw and fine-tune).")
_CALIBRATE = flags.DEFINE_bool("calibrate", False, "Choose verify and the safety quantile per m "
                                "on the tuning devices (overrides --verify, --safety_quantile).")
_VERIFY = flags.DEFINE_integer("verify", 0, "0: HELP's rule on predictions; v > 0: m - v samples "
                               "adapt the predictor and up to v measurements go to candidates "
                               "(the choice first, then more accurate ones it walked past).")
_SAFETY = flags.DEFINE_float("safety_quantile", 0.0, "0: HELP's rule; q in (0, 1]: keep a "
                             "candidate only if prediction x (1 + margin) meets the budget, the "
                             "margin being this quantile of the leave-one-out underestimates.")


_COMPARE = flags.DEFINE_list("compare", None, "name=workdir,...: tabulate earlier runs' nas.json "
                             "side by side into WORKDIR/compare.md (nothing is run).")


def _compare(specs, workdir):
  runs = {}
  for spec in specs:
    name, sep, folder = spec.rpartition("=")
    path = pathlib.Path(folder) / "nas.json"
    if not sep or not name or not path.is_file():
      raise app.UsageError(f"--compare entry {spec!r}: want name=workdir with a nas.json")
    runs[name] = json.loads(path.read_text())
  table = nas_tables.compare_markdown(runs, _CONFIG.value.data.data_dir or None)
  pathlib.Path(workdir).mkdir(parents=True, exist_ok=True)
  (pathlib.Path(workdir) / "compare.md").write_text(table)
  print(table)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if _COMPARE.value:
    return _compare(_COMPARE.value, _WORKDIR.value)
  counts = tuple(int(m) for m in _SAMPLES.value)
  quantile, verify = _SAFETY.value, _VERIFY.value
  if _CALIBRATE.value:
    cal = nas.calibrate(_CONFIG.value, _WORKDIR.value, _PRETRAINED.value, sample_counts=counts)
    quantile = {m: c["safety_quantile"] for m, c in cal["chosen"].items()}
    verify = {m: c["verify"] for m, c in cal["chosen"].items()}
    print(open(f"{_WORKDIR.value}/calibration.md").read())
  nas.run(_CONFIG.value, _WORKDIR.value, _PRETRAINED.value, tuple(_DEVICES.value), counts,
          range(_SEEDS.value), quantile, verify)
  print(open(f"{_WORKDIR.value}/nas.md").read())


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
