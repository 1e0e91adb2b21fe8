"""Intended send times of an open-loop run.

A schedule is a piecewise-linear rate over time. Arrivals are generated in "count space"
(request i sits at cumulative count i for constant spacing, or at a sum of unit exponentials for
Poisson) and mapped to time through the inverse of the cumulative count N(t) = integral of the rate.
That one mapping serves constant rates, ramps and Poisson arrivals alike, and splitting the load
over several workers is a matter of which count-space points each worker takes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from loadgen.workloads.profile import LoadProfile, Share, Stage

NS = 1_000_000_000


def run_stages(profile: LoadProfile) -> tuple[Stage, ...]:
    """The profile's stages with the warm-up prepended at the first stage's rate."""
    if profile.warmup_s <= 0:
        return profile.stages
    return (Stage(profile.warmup_s, profile.stages[0].rate), *profile.stages)


def _segments(stages: tuple[Stage, ...]) -> Iterator[tuple[float, float, float, float, float]]:
    """(start time, start count, duration, start rate, end rate) of each linear piece."""
    t, count, rate = 0.0, 0.0, stages[0].rate
    for stage in stages:
        yield t, count, stage.duration_s, rate, stage.rate
        count += (rate + stage.rate) / 2 * stage.duration_s
        t += stage.duration_s
        rate = stage.rate


def _count_points(profile: LoadProfile, share: Share) -> Iterator[float]:
    """Cumulative-count positions of this worker's requests, increasing without end."""
    if profile.arrival == "constant":
        i = share.index
        while True:
            yield float(i)
            i += share.count
    else:
        # Each worker is an independent Poisson process at 1/count of the rate; their sum is a
        # Poisson process at the full rate.
        rng = random.Random(f"{profile.seed}:{share.index}")
        c = rng.expovariate(1.0 / share.count)
        while True:
            yield c
            c += rng.expovariate(1.0 / share.count)


def intended_times(profile: LoadProfile, share: Share | None = None) -> Iterator[int]:
    """Intended send times in ns from the start of the run (warm-up included), in order; in
    turns (profile.turns), only those that fall in this schedule's turns."""
    times = _all_times(profile, share or Share())
    turns = profile.turns
    if turns.count == 1:
        return times
    length = int(turns.length_s * NS)
    return (t for t in times if t // length % turns.count == turns.index)


def _all_times(profile: LoadProfile, share: Share) -> Iterator[int]:
    segments = _segments(run_stages(profile))
    t0, c0, duration, a, b = next(segments)
    k = (b - a) / (2 * duration)
    for c in _count_points(profile, share):
        while c >= c0 + (a + b) / 2 * duration:
            try:
                t0, c0, duration, a, b = next(segments)
            except StopIteration:
                return
            k = (b - a) / (2 * duration)
        # Solve a*x + k*x^2 = c - c0 for x in [0, duration]; this form is stable for k of
        # either sign and for a == 0.
        dc = c - c0
        x = 2 * dc / (a + math.sqrt(a * a + 4 * k * dc)) if dc > 0 else 0.0
        yield int((t0 + x) * NS)
