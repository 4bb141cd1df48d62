"""Figures a person would rather look at than a table (matplotlib, Agg backend)."""

import pathlib
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path, dpi: int = 100) -> pathlib.Path:
  """Writes `fig` as a PNG (creating folders) and closes it."""
  fig.tight_layout()
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=dpi)
  plt.close(fig)
  return path


def hw_correlation_heatmap(corr_HxH: np.ndarray, hw_names: Sequence[str], path,
                           train_hw: Sequence[str] = (), test_hw: Sequence[str] = (),
                           title: Optional[str] = None) -> pathlib.Path:
  """Writes a PNG heatmap of device x device Spearman correlation.

  Devices are ordered training first, then target, then the rest; the training and target
  blocks are outlined and their tick labels coloured (training blue, target red).
  """
  order = list(train_hw) + list(test_hw) + [n for n in hw_names
                                           if n not in set(train_hw) | set(test_hw)]
  idx = [list(hw_names).index(n) for n in order]
  mat = corr_HxH[np.ix_(idx, idx)]
  fig, ax = plt.subplots(figsize=(11, 9.5))
  im = ax.imshow(mat, cmap="viridis", vmin=min(0.0, float(mat.min())), vmax=1.0)
  ax.set_xticks(range(len(order)), order, rotation=90, fontsize=8)
  ax.set_yticks(range(len(order)), order, fontsize=8)
  colours = {**{n: "tab:blue" for n in train_hw}, **{n: "tab:red" for n in test_hw}}
  for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
    for label in labels:
      label.set_color(colours.get(label.get_text(), "black"))
  m, n = len(train_hw), len(test_hw)
  for start, size, colour in ((0, m, "tab:blue"), (m, n, "tab:red")):
    if size:
      ax.add_patch(plt.Rectangle((start - 0.5, start - 0.5), size, size, fill=False,
                                 edgecolor=colour, linewidth=2.5))
  fig.colorbar(im, ax=ax, label="Spearman correlation of latency over all architectures")
  ax.set_title(title or "device x device latency rank correlation "
               "(blue: training devices, red: target devices)")
  return _save(fig, path, dpi=110)


def scatter(pred_ms, true_ms, path, title: str) -> pathlib.Path:
  """Predicted vs measured latency (ms) of every evaluated architecture."""
  fig, ax = plt.subplots(figsize=(5.5, 5))
  ax.scatter(true_ms, pred_ms, s=3, alpha=0.4)
  lo, hi = float(np.min(true_ms)), float(np.max(true_ms))
  ax.plot([lo, hi], [lo, hi], color="grey", linewidth=1)
  ax.set_xlabel("measured latency (ms)")
  ax.set_ylabel("predicted latency (ms, rescaled from the samples)")
  ax.set_title(title, fontsize=9)
  return _save(fig, path)


def metric_vs_samples(runs, key: str, label: str, path, flops=None) -> pathlib.Path:
  """A task-level metric (results key `key`, e.g. 'task_spearman_mean') versus the number of
  target samples, one panel per task, one line per method; `flops` {task: SRCC} adds the FLOPs
  ranking as a reference line."""
  task_names = list(dict.fromkeys(r["task"] for r in runs))
  cols = min(4, len(task_names))
  rows = -(-len(task_names) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3 * rows), squeeze=False)
  for ax, task in zip(axes.flat, task_names):
    for method in dict.fromkeys(r["method"] for r in runs):
      pts = sorted((r["num_samples"], r[key]) for r in runs
                   if r["task"] == task and r["method"] == method)
      ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method)
    if flops is not None:
      ax.axhline(flops[task], color="grey", linestyle="--", label="FLOPs")
    ax.set_title(task)
    ax.set_xlabel("target samples")
    ax.set_ylabel(label)
  for ax in list(axes.flat)[len(task_names):]:
    ax.axis("off")
  axes.flat[0].legend(fontsize=7)
  return _save(fig, path)


def latency_accuracy_pareto(true_ms, accuracy, chosen, path, title: str) -> pathlib.Path:
  """Candidates' measured latency (ms) vs accuracy with their Pareto front; `chosen` is a list of
  (budget ms, chosen candidate's true ms, its accuracy, label) drawn over it."""
  true_ms, accuracy = np.asarray(true_ms), np.asarray(accuracy)
  order = np.lexsort((-accuracy, true_ms))
  front, best = [], -np.inf
  for i in order:
    if accuracy[i] > best:
      front.append(i)
      best = accuracy[i]
  fig, ax = plt.subplots(figsize=(6, 4.5))
  ax.scatter(true_ms, accuracy, s=6, c="0.7", label="MetaD2A candidates")
  ax.step(true_ms[front], accuracy[front], where="post", c="k", lw=1, label="Pareto front")
  colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for k, budget in enumerate(sorted({c[0] for c in chosen})):
    pts = [c for c in chosen if c[0] == budget]
    col = colours[k % len(colours)]
    ax.axvline(budget, c=col, ls="--", lw=0.8)
    ax.scatter([p[1] for p in pts], [p[2] for p in pts], c=col, marker="x", s=40,
               label=f"chosen, budget {budget:g} ms")
  lo = np.quantile(accuracy, 0.05)
  ax.set_ylim(lo, accuracy.max() + 0.5)
  ax.set_xlabel("measured latency (ms)")
  ax.set_ylabel("CIFAR-100 accuracy (%)")
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=7, loc="lower right")
  return _save(fig, path)


def study_points(rows, path, title: str) -> pathlib.Path:
  """Mean ± std Spearman per study point, one group of bars per point, one bar per task."""
  labels = list(dict.fromkeys(r["label"] for r in rows))
  task_names = list(dict.fromkeys(r["task"] for r in rows))
  width = 0.8 / len(task_names)
  fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2), 3.8))
  for j, name in enumerate(task_names):
    xs, ms, sds = [], [], []
    for i, label in enumerate(labels):
      match = [r for r in rows if (r["label"], r["task"]) == (label, name)]
      if match:
        xs.append(i + (j - (len(task_names) - 1) / 2) * width)
        ms.append(match[0]["spearman_mean"])
        sds.append(match[0]["spearman_std"])
    ax.bar(xs, ms, width, yerr=sds, capsize=3, label=name)
  lows = [r["spearman_mean"] - r["spearman_std"] for r in rows]
  ax.set_ylim(max(0.0, min(lows) - 0.05), 1.0)
  ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
  ax.set_ylabel("Spearman (all architectures)")
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=8)
  return _save(fig, path)
