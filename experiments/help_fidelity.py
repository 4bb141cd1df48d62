"""HELP's fidelity check: the reimplementation (latpred/help.py) under HELP's own protocol.

HELP's protocol: meta-train on the task's training devices over architectures [0, 900) (NB201) or
[0, 4000) (FBNet) less their 10 % fastest/slowest; per target, adapt on 10 random architectures of
that pool (with HELP's 10 reference latencies as the hardware embedding) and score Spearman on
[900, 1900) / [4000, 5000) less their 10 % fastest/slowest. Published means: ND 0.932, FD 0.910.

  python experiments/help_fidelity.py --tasks=ND,FD --seeds=0,1,2 --out=docs/help_fidelity
"""

import json
import pathlib
import warnings

from absl import app, flags

warnings.filterwarnings("ignore", category=DeprecationWarning)

from latpred.baselines import help as help_lib  # noqa: E402
from latpred.protocol import tasks

_TASKS = flags.DEFINE_list("tasks", ["ND", "FD"], "Tasks (training/target devices).")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Meta-training / sampling seeds.")
_EPISODES = flags.DEFINE_integer("episodes", help_lib.EPISODES, "Meta-training episodes.")
_OUT = flags.DEFINE_string("out", None, "Output folder (fidelity.json, fidelity.md).",
                           required=True)


def markdown(results) -> str:
  lines = ["| task | target device | SRCC (mean over seeds) |", "|---|---|---|"]
  for r in results:
    for hw, v in r["per_device"].items():
      lines.append(f"| {r['task']} | {hw} | {sum(v) / len(v):.3f} |")
    lines.append(f"| **{r['task']}** | **mean** (± std over {len(r['seeds'])} seeds) | "
                 f"**{r['mean']:.3f} ± {r['std_over_seeds']:.3f}** (HELP published "
                 f"{r['published']}) |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  out = pathlib.Path(_OUT.value)
  results = [help_lib.help_protocol(tasks.get_task(name), [int(s) for s in _SEEDS.value],
                                    episodes=_EPISODES.value, log=print)
             for name in _TASKS.value]
  out.mkdir(parents=True, exist_ok=True)
  (out / "fidelity.json").write_text(json.dumps(results, indent=2))
  (out / "fidelity.md").write_text(markdown(results))
  print(markdown(results))


if __name__ == "__main__":
  app.run(main)
