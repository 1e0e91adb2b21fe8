"""Change points in a series of measurements: a weighted step fit places them, a t-test keeps
them.

The series is one value per point (commit or version), each measured several times. The step
fit is asv's method: the piecewise-constant line that minimises the squared distance to the
points' means, weighted by how precisely each mean is known, plus a penalty per step; dynamic
programming finds the best one exactly, so two nearby steps do not hide each other as they can
in a greedy top-down split. Each step then has to pass the test Hunter (datastax-labs/hunter)
applies after E-Divisive: Welch's t-test on the repeated measurements of the two segments it
separates, p below `alpha`, and a size of at least `min_magnitude` (5% by default: smaller
steps are below this machine's noise floor for wall-clock figures). A step that fails is
dropped and its neighbours are tested again. Values are compared in log space, so a step is
a ratio whichever way the metric points.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.001
MIN_MAGNITUDE = 0.05
# The penalty per step, in units of the noise (a chi-square): Schwarz's 2 log n for a change of
# mean, which the t-test then makes strict.
PENALTY_PER_LOG_POINT = 2.0


@dataclass(frozen=True)
class ChangePoint:
    index: int  # the first point after the change
    before: float  # the segment levels on either side (geometric means of the points)
    after: float
    p_value: float

    @property
    def magnitude(self) -> float:
        """after / before - 1: +0.12 is a 12% rise of the value."""
        return self.after / self.before - 1


def welch_p(left: Sequence[float], right: Sequence[float]) -> float:
    """Two-sided p of Welch's t-test; for two spreads of zero, 0 when the means differ."""
    if len(left) < 2 or len(right) < 2:
        return 1.0
    if statistics.pvariance(left) == 0 and statistics.pvariance(right) == 0:
        return 0.0 if statistics.fmean(left) != statistics.fmean(right) else 1.0
    with warnings.catch_warnings():
        # Instruction counts repeat to a few parts in a million: scipy warns of precision lost
        # on samples so nearly identical, and its p is then at one extreme or the other.
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(left, right, equal_var=False).pvalue)


def step_fit(means: Sequence[float], weights: Sequence[float], penalty: float) -> list[int]:
    """The starts of the segments (but the first) of the best weighted piecewise-constant fit:
    least weighted squares plus `penalty` per step, by dynamic programming (O(n²))."""
    n = len(means)
    # Prefix sums give each segment's weighted squared error in O(1).
    w, wx, wxx = [0.0], [0.0], [0.0]
    for mean, weight in zip(means, weights, strict=True):
        w.append(w[-1] + weight)
        wx.append(wx[-1] + weight * mean)
        wxx.append(wxx[-1] + weight * mean * mean)

    def error(a: int, b: int) -> float:
        total = w[b] - w[a]
        return wxx[b] - wxx[a] - (wx[b] - wx[a]) ** 2 / total if total else 0.0

    best = [0.0] + [math.inf] * n
    start = [0] * (n + 1)
    for b in range(1, n + 1):
        for a in range(b):
            cost = best[a] + error(a, b) + (penalty if a else 0.0)
            if cost < best[b]:
                best[b], start[b] = cost, a
    splits, b = [], n
    while start[b]:
        splits.append(start[b])
        b = start[b]
    return sorted(splits)


def _pooled_variance(logs: Sequence[Sequence[float]]) -> float:
    """The spread of one measurement around its point's mean, pooled over all points."""
    squares = sum((v - statistics.fmean(p)) ** 2 for p in logs for v in p)
    freedom = sum(len(p) - 1 for p in logs)
    return squares / freedom if freedom else 0.0


def _change(logs: Sequence[Sequence[float]], start: int, split: int, end: int) -> ChangePoint:
    left, right = logs[start:split], logs[split:end]
    return ChangePoint(split, math.exp(statistics.fmean(map(statistics.fmean, left))),
                       math.exp(statistics.fmean(map(statistics.fmean, right))),
                       welch_p([v for p in left for v in p], [v for p in right for v in p]))


def change_points(samples: Sequence[Sequence[float]], min_magnitude: float = MIN_MAGNITUDE,
                  alpha: float = ALPHA) -> list[ChangePoint]:
    """The change points of a series given as each point's repeated (positive) measurements."""
    logs = [[math.log(v) for v in point] for point in samples]
    if len(logs) < 2:
        return []
    # Identical repeats (instruction counts) have no spread: any difference is then a step.
    variance = _pooled_variance(logs) or 1e-12
    splits = step_fit([statistics.fmean(p) for p in logs],
                      [len(p) / variance for p in logs],
                      PENALTY_PER_LOG_POINT * math.log(len(logs)))
    while True:
        bounds = [0, *splits, len(logs)]
        changes = [_change(logs, a, s, b) for a, s, b in zip(bounds, bounds[1:], bounds[2:],
                                                              strict=False)]
        failing = [c for c in changes
                   if c.p_value >= alpha or abs(c.magnitude) < min_magnitude]
        if not failing:
            return changes
        worst = max(failing, key=lambda c: (c.p_value, -abs(c.magnitude)))
        splits.remove(worst.index)
