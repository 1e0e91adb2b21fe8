"""The report's figures, drawn with matplotlib from stored results only; one PNG each."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, and the same output everywhere

import matplotlib.pyplot as plt
from hdrh.histogram import HdrHistogram
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from loadgen.analysis.compare import NO_CHANGE, REGRESSION, TOO_FEW, Comparison, verdict_text
from loadgen.analysis.series import Series

PERCENTILES = (0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99)
TICKS = {50.0: "50%", 90.0: "90%", 99.0: "99%", 99.9: "99.9%", 99.99: "99.99%"}
VERDICT_COLOURS = {REGRESSION: "tab:red", "improvement": "tab:green", NO_CHANGE: "tab:blue"}
DPI = 80


def _x(percentile: float) -> float:
    """HdrHistogram's percentile axis: 1/(1-p), so that the tail gets the room."""
    return 1 / (1 - percentile / 100)


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def latency_by_percentile(kinds: Mapping[str, Mapping[str, HdrHistogram]], title: str,
                          path: Path) -> None:
    """One panel per request kind, one line per cell: corrected latency against percentile."""
    names = list(kinds)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax, kind in zip(axes.flat, names, strict=False):
        for cell, hist in kinds[kind].items():
            if hist.get_total_count():
                ys = [hist.get_value_at_percentile(p) / 1000 for p in PERCENTILES]
                ax.plot([_x(p) for p in PERCENTILES], ys, marker=".", label=cell)
        ax.set_xscale("log")
        ax.set_xticks([_x(p) for p in TICKS], list(TICKS.values()))
        ax.set_title(kind, fontsize=10)
        ax.set_ylabel("ms (corrected)")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, path)


def spread(values: Mapping[str, Mapping[str, Sequence[float]]], title: str, path: Path) -> None:
    """Per metric, each cell's value in every round (dots) and their median (bar)."""
    metrics = list(values)
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=True):
        cells = list(values[metric])
        for i, cell in enumerate(cells):
            rounds = sorted(values[metric][cell])
            if rounds:
                ax.scatter([i] * len(rounds), rounds, s=18, color="tab:blue")
                ax.hlines(rounds[len(rounds) // 2], i - 0.3, i + 0.3, color="black")
        ax.set_xticks(range(len(cells)), cells, rotation=35, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    _save(fig, path)


def forest(comparisons: Sequence[Comparison], title: str, path: Path) -> None:
    """Each cell's ratio to the baseline with its 95% interval, against the ±δ band."""
    metrics = list(dict.fromkeys(c.metric.name for c in comparisons))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics),
                                                       1.2 + 0.35 * len(comparisons) /
                                                       max(1, len(metrics))), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=True):
        rows = [c for c in comparisons if c.metric.name == metric]
        delta = rows[0].metric.delta
        ax.axvspan(1 - delta, 1 + delta, color="grey", alpha=0.15)
        ax.axvline(1.0, color="grey", linewidth=0.8)
        for i, c in enumerate(rows):
            if c.ratio is None or c.low is None or c.high is None:
                ax.text(1.0, i, verdict_text(c) if c.verdict == TOO_FEW else "no usable rounds",
                        fontsize=7, ha="center", va="center")
                continue
            ax.errorbar(c.ratio, i, xerr=[[c.ratio - c.low], [c.high - c.ratio]], fmt="o",
                        color=VERDICT_COLOURS.get(c.verdict, "tab:orange"), capsize=3)
        ax.set_yticks(range(len(rows)), [c.cell + (f" [{c.metric.kind}]" if c.metric.kind else "")
                                         for c in rows], fontsize=8)
        ax.invert_yaxis()
        # Ratios multiply: a log axis keeps 0.9 and 1.1 apart even beside a cell at 50x.
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{metric} (δ {delta:.0%})", fontsize=10)
        ax.set_xlabel("ratio to baseline")
    fig.suptitle(title)
    _save(fig, path)


def timeline(seconds: Sequence[int], requests: Sequence[int], p99_ms: Sequence[float],
             sample_at: Sequence[float], cpu_share: Sequence[float], rss_mb: Sequence[float],
             title: str, path: Path) -> None:
    """Per second: throughput and p99; the server's CPU share and RSS over the trial."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    top.plot(seconds, requests, marker=".", color="tab:blue")
    top.set_ylabel("requests / s", color="tab:blue")
    twin = top.twinx()
    twin.plot(seconds, p99_ms, marker=".", color="tab:red")
    twin.set_ylabel("p99 ms (corrected)", color="tab:red")
    bottom.plot(sample_at, cpu_share, marker=".", color="tab:green")
    bottom.set_ylabel("server CPU (cores)", color="tab:green")
    bottom.set_xlabel("seconds since the measured window began")
    twin2 = bottom.twinx()
    twin2.plot(sample_at, rss_mb, marker=".", color="tab:purple")
    twin2.set_ylabel("server RSS MB", color="tab:purple")
    fig.suptitle(title)
    _save(fig, path)


def history(panels: Sequence[Series], labels: Sequence[str], title: str, path: Path,
            verdicts: Mapping[tuple[str, str, str], str]) -> None:
    """One panel per metric: its value at each point (x in axis order), the 95% interval as a
    band, and each change point as a dashed line between its two points, with its size and,
    once an A/B has judged it, its verdict (by metric label and the two points' keys)."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(7.0, 0.55 * len(labels) + 3),
                                                      2.4 * len(panels) + 0.8),
                             sharex=True, squeeze=False)
    where = {label: i for i, label in enumerate(labels)}
    for ax, one in zip(axes.flat, panels, strict=True):
        x = [where[level.point.label] for level in one.levels]
        ax.fill_between(x, [lv.low for lv in one.levels], [lv.high for lv in one.levels],
                        color="tab:blue", alpha=0.2, linewidth=0)
        ax.plot(x, [lv.center for lv in one.levels], marker="o", color="tab:blue")
        for change in one.changes:
            worse = (change.magnitude < 0) == one.metric.higher_is_better
            colour = "tab:red" if worse else "tab:green"
            at = (where[change.before.label] + where[change.after.label]) / 2
            ax.axvline(at, color=colour, linestyle="--")
            verdict = verdicts.get((one.metric.label, change.before.key, change.after.key))
            ax.annotate(f"{change.magnitude:+.0%}" + (f"\nA/B: {verdict}" if verdict else ""),
                        (at, 0.95), xycoords=("data", "axes fraction"),
                        ha="center", va="top", color=colour, fontweight="bold",
                        bbox={"facecolor": "white", "edgecolor": colour})
        if not one.judged:
            ax.text(0.01, 0.95, "too few samples per trial to look for change points",
                    transform=ax.transAxes, fontsize=8, va="top", color="grey")
        ax.set_ylabel(f"{one.metric.title}\n({one.metric.unit})", fontsize=9)
        ax.grid(True, alpha=0.3)
    bottom = axes.flat[-1]
    bottom.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    bottom.set_xlim(-0.5, len(labels) - 0.5)
    fig.suptitle(title)
    _save(fig, path)
