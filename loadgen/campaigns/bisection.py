"""Bisecting a regression: binary search over the commits from a good one to a bad one, each
step an interleaved A/B of the middle commit against the good one on one metric, naming the
first bad commit. A step asks one question, "worse than δ?": yes when the whole interval is
beyond δ, no when none of it is; while the interval straddles δ, more rounds (as many as the
noise seen says it needs, history.ab). A percentile with too few samples in a trial cannot be
asked: that stops the search in one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen.analysis.compare import (
    MIN_TAIL_SAMPLES,
    TOO_FEW,
    Comparison,
    answered,
    regressed,
)
from loadgen.campaigns.bench import TrialSink
from loadgen.campaigns.history import HistoryPlan, ab
from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement
from loadgen.results.history import Point
from loadgen.results.metrics import Metric


@dataclass(frozen=True)
class Step:
    point: Point  # the commit measured against the good one
    comparison: Comparison

    @property
    def bad(self) -> bool | None:
        """Whether this commit has the regression; None when the A/B could not tell."""
        return regressed(self.comparison)


@dataclass(frozen=True)
class Outcome:
    steps: tuple[Step, ...]
    first_bad: Point | None  # None when a step stayed inconclusive
    good: Point  # the last commit known good and the first known bad
    bad: Point


def bisect(plan: HistoryPlan, chosen: Metric, home: Path, placement: Placement,
           max_rounds: int, on_trial: TrialSink | None = None,
           on_step: Callable[[Step], None] | None = None) -> Outcome:
    """Search plan.points (good first, bad last) for the first commit that regressed on
    `chosen`. The bad end is measured first, so a range without a regression is refused."""
    if len(plan.points) < 2:
        raise LoadgenError("bisect needs a good and a later bad commit")
    scenario = plan.scenarios[0]
    good = plan.points[0]
    steps: list[Step] = []

    def judge(point: Point) -> Step:
        comparisons, store = ab(plan, good, point, scenario, (chosen,), home, placement,
                                on_trial, max_rounds, answered)
        if not comparisons:
            failed = [t for t in store.trials() if t.error]
            raise LoadgenError(f"{point.label} against {good.label}: no {chosen.label} to "
                               f"compare" + (f"; a trial failed: {failed[0].error}" if failed
                                             else f" in the trials of {store.path}"))
        step = Step(point, comparisons[0])
        steps.append(step)
        if on_step is not None:
            on_step(step)
        if step.comparison.verdict == TOO_FEW:
            raise LoadgenError(
                f"{chosen.label}: too few samples (n={step.comparison.fewest} in a trial) to "
                f"judge: a percentile needs {MIN_TAIL_SAMPLES} beyond it; use a longer "
                f"--duration or a higher --rate")
        return step

    lo, hi = 0, len(plan.points) - 1
    ends = judge(plan.points[hi])
    if ends.bad is False:
        raise LoadgenError(f"{plan.points[hi].label} is not worse than {good.label} on "
                           f"{chosen.label} by more than {chosen.delta:.0%} "
                           f"({ends.comparison.verdict}): nothing to bisect")
    if ends.bad is None:
        return Outcome(tuple(steps), None, good, plan.points[hi])
    while hi - lo > 1:
        middle = (lo + hi) // 2
        step = judge(plan.points[middle])
        if step.bad is None:
            return Outcome(tuple(steps), None, plan.points[lo], plan.points[hi])
        if step.bad:
            hi = middle
        else:
            lo = middle
    return Outcome(tuple(steps), plan.points[hi], plan.points[lo], plan.points[hi])
