"""Measure architectures on this machine's JAX backend (step 2 of suggest -> measure -> adapt).

  python experiments/measure.py --space=nb201 --archs=to_measure.csv --out=my_device.csv

Builds each architecture's network in flax (NB201: the CIFAR network, 32x32; FBNet: the ImageNet
network, 224x224, or --resolution=cifar100), compiles them outside the timing, then times rounds
of warm-up and timed calls (block_until_ready) interleaved over the networks (docs/measure.md);
writes OUT (arch,latency_ms: the median of the round medians, in milliseconds, as
experiments/adapt.py reads) and OUT with .json (backend, device kind, batch, settings, versions,
machine, every timing).
Speed anchors: with --reference=EARLIER.csv (an earlier measurement of this machine,
arch,latency_ms) --anchors networks of it are timed with every group and each group's latencies
are divided by the group's speed factor against it, so that measurements made minutes or days
apart share one scale; without --reference the anchors (picked from the list) do that between
the groups of this run when there is more than one. The sidecar keeps the raw values
(docs/measure.md).
Interrupted? Run the same command again: it resumes.
JAX_PLATFORMS=cpu (or cuda, tpu) chooses the backend.
"""

import sys

from absl import app, flags

from latpred import spaces
from latpred.apps import anchors, measure, measurements, timing
from latpred.data import tables

_SPACE = flags.DEFINE_enum("space", None, list(tables.SPACES), "Search space.", required=True)
_ARCHS = flags.DEFINE_string("archs", None, "CSV with an arch column (suggest.py's output).",
                             required=True)
_OUT = flags.DEFINE_string("out", None, "Output CSV (arch,latency_ms); must not exist.",
                           required=True)
_RESOLUTION = flags.DEFINE_enum("resolution", "", ["", "imagenet", "cifar100"],
                                "FBNet input: imagenet (224, default) or cifar100 (32).")
_BATCH = flags.DEFINE_integer("batch", 1, "Images per call.", lower_bound=1)
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed calls before a network's calls in each "
                               "round.", lower_bound=0)
_REPEATS = flags.DEFINE_integer("repeats", 10, "Timed calls per network and round.",
                                lower_bound=1)
_ROUNDS = flags.DEFINE_integer("rounds", 20, "Passes over the group.", lower_bound=1)
_GROUP = flags.DEFINE_integer("group", 100, "Networks compiled and timed together (0: all; fewer "
                              "bounds the memory).", lower_bound=0)
_MAX_UNCERTAINTY = flags.DEFINE_float("max_uncertainty", 0.10, "Largest relative standard "
                                      "error of a latency (over rounds) before flagging it.")
_ANCHORS = flags.DEFINE_integer("anchors", anchors.DEFAULT_ANCHORS, "Speed anchors timed with "
                               "every group (0: none; used with --reference or several groups).",
                               lower_bound=0)
_REFERENCE = flags.DEFINE_string("reference", None, "An earlier measurement of this machine "
                                 "(CSV arch,latency_ms) whose speed the results are scaled to.")
_ON_NOISY = flags.DEFINE_enum("on_noisy", "warn", list(measure.POLICIES),
                              "A noisy network: keep it with a warning (flagged), or stop.")


def main(argv):
  del argv
  try:
    canonical = lambda a: spaces.canonical(_SPACE.value, a)  # noqa: E731
    archs = measurements.read_archs(_ARCHS.value, canonical)
    reference = (measurements.read_latencies(_REFERENCE.value, canonical)
                 if _REFERENCE.value else None)
    plan = measure.Plan(_SPACE.value, _RESOLUTION.value,
                        timing.Settings(_BATCH.value, _WARMUP.value, _REPEATS.value, _ROUNDS.value),
                        _GROUP.value, _MAX_UNCERTAINTY.value, _ON_NOISY.value,
                        anchors=_ANCHORS.value)
    info = measure.backend_info()
    print(f"measuring {len(archs)} {_SPACE.value} networks on {info['backend']} "
          f"({info['device_kind']}), batch {_BATCH.value}", flush=True)
    sidecar = measure.measure(archs, _OUT.value, plan, reference=reference,
                              reference_source=_REFERENCE.value or "",
                              log=lambda s: print(s, flush=True))
  except (ValueError, FileExistsError, measure.MeasureError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {_OUT.value} ({len(archs)} rows, latency_ms) and "
        f"{measure.sidecar_path(_OUT.value)}; {sidecar['flagged']} flagged as noisy")


if __name__ == "__main__":
  app.run(main)
