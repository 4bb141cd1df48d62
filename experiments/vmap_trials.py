"""Does running independent trainings as one vmapped program pay on this machine?

Times, for one task, (a) the fine-tunes of one target (every ensemble member on the full sample
set and on each cross-fitting fold, as `transfer.adapt_ensemble` runs them) and (b) the
pretraining of every ensemble member, each one after the other (`loop.fit`) and as one vmapped
program (`loop.fit_runs`). Untrained members are used: the work is the same as after pretraining.

  python experiments/vmap_trials.py --tasks=ND,FD --repeats=3 --out=docs/vmap.md

config.transfer.vmap_fine_tune switches the fine-tunes to the vmapped program.
"""

import pathlib
import sys
import warnings

import jax
import numpy as np
from absl import app, flags
from ml_collections import config_flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.adapt import stacking  # noqa: E402
from latpred.apps import timing  # noqa: E402
from latpred.model import build  # noqa: E402
from latpred.protocol import config as config_lib  # noqa: E402
from latpred.protocol import runner, samplers, tasks  # noqa: E402
from latpred.train import loop  # noqa: E402

_DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "nasflat.py"
_CONFIG = config_flags.DEFINE_config_file("config", str(_DEFAULT_CONFIG), lock_config=False)
_TASKS = flags.DEFINE_list("tasks", ["ND", "FD"], "Tasks to time.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats (after one compiling run).")
_PRETRAIN_EPOCHS = flags.DEFINE_integer("pretrain_epochs", 2, "Epochs of the pretraining timing.")
_OUT = flags.DEFINE_string("out", None, "Markdown output file.", required=True)


def _median_s(fn, repeats):
  return timing.median_ms(fn, repeats) / 1e3  # one untimed call compiles


def time_task(config, name, repeats, pretrain_epochs):
  task = tasks.get_task(name)
  s = build.make_setup(config, task.space, task.train_hw)
  p, t = config.pretrain, config.transfer
  members = [build.init_params(s.model, s.space, s.supp, k) for k in range(p.ensemble_size)]
  hw = s.table.hw_index(task.test_hw[0])
  lat = s.table.latency_ms_HxA[[hw]]
  picks = runner.target_samples(s, 0, hw)
  m = len(picks)
  subsets = [np.arange(m)] + [np.setdiff1d(np.arange(m), f)
                              for f in stacking.fold_ids(m, t.stack_folds, 0)]
  runs = [(p, picks[pos], 7919 * k) for pos in subsets for k, p in enumerate(members)]
  kw = dict(epochs=t.epochs, batch_size=t.batch, lr=t.lr, weight_decay=t.weight_decay,
            final_lr=t.final_lr)

  def fine_seq():
    return [loop.fit(s.model, p, s.space.graph_set, s.supp, [hw], lat, a, seed=sd, **kw)[0]
            for p, a, sd in runs]

  def fine_vmap():
    out = []
    for n in sorted({len(a) for _, a, _ in runs}):
      grp = [r for r in runs if len(r[1]) == n]
      out += loop.fit_runs(s.model, [r[0] for r in grp], s.space.graph_set, s.supp,
                           [[hw]] * len(grp), [lat] * len(grp), [r[1] for r in grp],
                           seeds_K=[r[2] for r in grp], **kw)
    return out

  train_lat = s.table.latency_ms_HxA[s.train_ids]
  archs = [samplers.sample("random", p.samples, 7919 * k,
                           pool=np.arange(s.space.num_archs)) for k in range(len(members))]
  pkw = dict(epochs=pretrain_epochs, batch_size=p.batch, lr=p.lr, weight_decay=p.weight_decay,
             final_lr=p.final_lr)

  def pre_seq():
    return [loop.fit(s.model, p, s.space.graph_set, s.supp, s.train_ids, train_lat, a,
                     seed=k, **pkw)[0] for k, (p, a) in enumerate(zip(members, archs))]

  def pre_vmap():
    return loop.fit_runs(s.model, members, s.space.graph_set, s.supp,
                         [s.train_ids] * len(members), [train_lat] * len(members), archs,
                         seeds_K=list(range(len(members))), **pkw)

  return [(name, f"fine-tune one target: {len(runs)} runs ({len(members)} members x "
                 f"{len(subsets)} sample sets of {m}/{len(subsets[-1])})",
           _median_s(fine_seq, repeats), _median_s(fine_vmap, repeats)),
          (name, f"pretrain {len(members)} members x {len(s.train_ids)} devices, "
                 f"{pretrain_epochs} epochs", _median_s(pre_seq, repeats),
           _median_s(pre_vmap, repeats))]


def main(argv):
  del argv
  rows = []
  for name in _TASKS.value:
    rows += time_task(_CONFIG.value, name, _REPEATS.value, _PRETRAIN_EPOCHS.value)
    print(rows[-2:], flush=True)
  lines = [f"Median of {_REPEATS.value} timed runs after a compiling run; command: "
           f"`python {' '.join(sys.argv)}`; jax {jax.__version__} on {jax.devices()[0].platform}.",
           "", "| task | work | one after the other (s) | vmapped (s) | vmapped / sequential |",
           "|---|---|---|---|---|"]
  for name, work, seq, vm in rows:
    lines.append(f"| {name} | {work} | {seq:.2f} | {vm:.2f} | {vm / seq:.2f} |")
  pathlib.Path(_OUT.value).write_text("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  config_lib.reject_moved_flags(sys.argv)
  app.run(main)
