"""HELP's published NB201 NAS results, the MetaD2A candidates, and the NAS tables: per (device,
budget, m) summaries beside HELP's choice, the rule on measured latency and the best accuracy
within budget (latpred.apps.nas writes them)."""

import numpy as np

from latpred.apps import search
from latpred.data import load_latency_table, tables
from latpred.spaces import load_space

# HELP's published NB201 NAS results (method.md §11; 10 samples + 10 reference latencies):
# device -> [(budget ms, chosen latency ms, accuracy %)].
HELP_RESULTS = {
    "titan_rtx_256": [(18, 17.8, 69.7), (21, 18.9, 71.5), (25, 24.2, 71.8)],
    "gold_6226": [(8, 8.0, 67.3), (11, 10.7, 70.2), (14, 14.3, 72.1)],
    "pixel2": [(14, 13.0, 69.7), (18, 19.0, 71.8), (22, 25.0, 73.2)],
    "eyeriss": [(5, 3.9, 71.5), (7, 5.1, 71.8), (9, 9.1, 73.5)],
    "fpga": [(4, 3.8, 70.2), (5, 4.7, 71.8), (6, 7.4, 73.5)],
}


def candidates(data_dir=None):
  """HELP's 500 MetaD2A candidates: (arch strings, accuracy %, NB201 indices), in file order."""
  archs, acc = tables.load_metad2a_candidates(data_dir)
  return archs, acc, load_space("nb201", data_dir).indices_of(archs)


def targets_measured(data_dir=None):
  """(candidates' accuracy %, {NAS target: the candidates' measured latency ms, float64})."""
  table = load_latency_table("nb201", data_dir)
  _, cand_acc, idx = candidates(data_dir)
  return cand_acc, {hw: table.latency_ms(hw)[idx].astype(np.float64) for hw in HELP_RESULTS}


def oracle_choices(data_dir=None) -> dict:
  """(device, budget) -> (latency ms, accuracy %) that HELP's rule chooses from the measured
  latencies themselves: what a perfect predictor would reach under that rule."""
  cand_acc, measured = targets_measured(data_dir)
  out = {}
  for hw, results in HELP_RESULTS.items():
    truth = measured[hw]
    for budget, *_ in results:
      chosen, _ = search.first_k_choice(truth, cand_acc, budget)
      out[(hw, budget)] = (float(truth[chosen]), float(cand_acc[chosen]))
  return out


def summarise(rows) -> list[dict]:
  """Per (device, budget, m): mean true latency, budget met count, mean accuracy, mean costs."""
  out = []
  keys = sorted({(r["device"], r["budget_ms"], r["num_samples"]) for r in rows},
                key=lambda k: (list(HELP_RESULTS).index(k[0]), k[1], k[2]))
  for hw, budget, m in keys:
    rs = [r for r in rows if (r["device"], r["budget_ms"], r["num_samples"]) == (hw, budget, m)]
    found = [r for r in rs if r["arch"] is not None]
    out.append({"device": hw, "budget_ms": budget, "num_samples": m, "runs": len(rs),
                "found": len(found), "met": sum(r["meets_budget"] for r in found),
                "true_latency_ms": float(np.mean([r["true_latency_ms"] for r in found]))
                if found else None,
                "max_true_latency_ms": max((r["true_latency_ms"] for r in found), default=None),
                "accuracy": float(np.mean([r["accuracy"] for r in found])) if found else None,
                "measurements": float(np.mean([r["measurements"] for r in rs])),
                "adapt_s": float(np.median([r["adapt_s"] for r in rs])),
                "search_s": float(np.median([r["search_s"] for r in rs]))})
  return out


def help_picks(data_dir=None) -> dict:
  """(device, budget) -> measured latency (ms) of HELP's published choice: the candidate whose
  accuracy and measured latency round to the published ones (0.1); the published latencies are
  rounded, so a choice published at the budget can measure over it."""
  cand_acc, measured = targets_measured(data_dir)
  out = {}
  for hw, results in HELP_RESULTS.items():
    truth = measured[hw]
    for budget, lat, acc in results:
      match = {round(float(truth[i]), 3) for i in range(len(truth))
               if round(float(cand_acc[i]), 1) == acc and round(float(truth[i]), 1) == lat}
      if len(match) != 1:
        raise ValueError(f"HELP's {hw} {budget} ms choice matches {len(match)} latencies")
      out[(hw, budget)] = match.pop()
  return out


def best_within_budget(data_dir=None) -> dict:
  """(device, budget) -> the highest accuracy (%) of a candidate measured within the budget:
  what no budget-respecting choice can exceed."""
  cand_acc, measured = targets_measured(data_dir)
  return {(hw, b): float(cand_acc[measured[hw] <= b].max())
          for hw, results in HELP_RESULTS.items() for b, *_ in results}


def markdown(rows, oracle=None, help_measured=None, best=None) -> str:
  """The table beside HELP's published choice (and its measured latency, if given), the best
  accuracy within budget and the rule's choice from the true latencies (`oracle_choices`)."""
  help_lookup = {(hw, b): (lat, acc) for hw, v in HELP_RESULTS.items() for b, lat, acc in v}
  oracle, help_measured, best = oracle or {}, help_measured or {}, best or {}
  lines = [("| device | budget (ms) | m | measurements (mean) | budget met | "
            "true latency (ms), mean [max] | accuracy (%) | HELP latency (ms): published "
            "[measured] | HELP accuracy (%) | best accuracy within budget (%) | rule on true "
            "latency: ms, acc (%) | adapt (s) | search (s) |"),
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for s in summarise(rows):
    key = (s["device"], s["budget_ms"])
    lat, acc = help_lookup[key]
    measured = help_measured.get(key)
    over = (measured if measured is not None else lat) > s["budget_ms"]
    help_lat = f"{lat}" + ("" if measured is None else f" [{measured:.2f}]") + (
        " (over)" if over else "")
    ours = ("none predicted within budget" if s["true_latency_ms"] is None else
            f"{s['true_latency_ms']:.2f} [{s['max_true_latency_ms']:.2f}]")
    accuracy = "" if s["accuracy"] is None else f"{s['accuracy']:.2f}"
    o = oracle.get(key)
    rule = "" if o is None else f"{o[0]:.2f}, {o[1]:.2f}"
    top = "" if key not in best else f"{best[key]:.2f}"
    lines.append(f"| {s['device']} | {s['budget_ms']} | {s['num_samples']} | "
                 f"{s['measurements']:.1f} | {s['met']}/{s['runs']} | {ours} | {accuracy} | "
                 f"{help_lat} | {acc} | {top} | {rule} | {s['adapt_s']:.1f} | "
                 f"{s['search_s']:.2f} |")
  return "\n".join(lines) + "\n"


def compare_markdown(runs: dict, data_dir=None) -> str:
  """One table of several runs (name -> rows, e.g. each a workdir's nas.json) beside HELP's
  published choice (with its measured latency), the rule on measured latency and the best
  accuracy within budget. A cell: runs meeting the budget by measured latency / runs, mean
  accuracy (%), and the mean measurement count where below m."""
  oracle, picks, best = oracle_choices(data_dir), help_picks(data_dir), best_within_budget(data_dir)
  summaries = {name: {(s["device"], s["budget_ms"], s["num_samples"]): s
                      for s in summarise(rows)} for name, rows in runs.items()}
  counts = sorted({k[2] for s in summaries.values() for k in s})
  head = ["device", "budget (ms)", "HELP: ms published [measured], acc (%)",
          "rule on measured latency: ms, acc (%)", "best acc within budget (%)"]
  head += [f"{name} m={m}" for name in runs for m in counts]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for hw, results in HELP_RESULTS.items():
    for budget, lat, acc in results:
      if not any((hw, budget, m) in s for s in summaries.values() for m in counts):
        continue
      measured = picks[(hw, budget)]
      over = " (over)" if measured > budget else ""
      o = oracle[(hw, budget)]
      cells = [hw, str(budget), f"{lat} [{measured:.2f}]{over}, {acc}",
               f"{o[0]:.2f}, {o[1]:.2f}", f"{best[(hw, budget)]:.2f}"]
      for name in runs:
        for m in counts:
          s = summaries[name].get((hw, budget, m))
          if s is None or s["accuracy"] is None:
            cells.append("" if s is None else f"{s['met']}/{s['runs']}, none found")
            continue
          cost = "" if s["measurements"] >= m else f" ({s['measurements']:.1f} meas.)"
          cells.append(f"{s['met']}/{s['runs']}, {s['accuracy']:.2f}{cost}")
      lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"
