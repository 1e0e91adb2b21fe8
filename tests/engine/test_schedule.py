"""The open-loop schedule, checked without a clock: it is a pure function of the profile."""

from __future__ import annotations

import statistics
from itertools import pairwise

import pytest

from loadgen.engine.schedule import NS, intended_times
from loadgen.workloads.profile import LoadProfile, Share, Stage


def times(profile: LoadProfile, share: Share | None = None) -> list[int]:
    return list(intended_times(profile, share))


def test_constant_rate_is_evenly_spaced_and_counts_warmup_too() -> None:
    profile = LoadProfile.constant(1000, 2.0, warmup_s=1.0)
    sent = times(profile)
    assert len(sent) == 3000
    gaps = {b - a for a, b in pairwise(sent)}
    assert gaps <= {NS // 1000 - 1, NS // 1000, NS // 1000 + 1}
    assert sent[0] == 0 and sent[-1] < 3 * NS


def test_ramp_sends_the_integral_of_its_rate() -> None:
    # 2 s at 100/s, then 4 s ramping 100 -> 500/s: 200 + (100 + 500) / 2 * 4 = 1400 requests.
    profile = LoadProfile.staged((Stage(2, 100), Stage(4, 500)), warmup_s=0)
    sent = times(profile)
    assert len(sent) == pytest.approx(1400, abs=1)
    first_second = sum(1 for t in sent if t < NS)
    last_second = sum(1 for t in sent if t >= 5 * NS)
    assert first_second == pytest.approx(100, abs=1)
    # The last second of the ramp runs from 400 to 500/s.
    assert last_second == pytest.approx(450, abs=2)
    assert sent == sorted(sent)


def test_ramp_down_is_monotonic_and_complete() -> None:
    profile = LoadProfile.staged((Stage(1, 1000), Stage(2, 100)), warmup_s=0)
    sent = times(profile)
    assert sent == sorted(sent)
    assert len(sent) == pytest.approx(1000 + 1100, abs=1)


def test_shares_partition_the_constant_schedule() -> None:
    profile = LoadProfile.constant(999, 1.0, warmup_s=0)
    whole = times(profile)
    parts = [times(profile, Share(k, 3)) for k in range(3)]
    assert sorted(t for part in parts for t in part) == whole


def test_poisson_has_the_right_mean_and_exponential_gaps() -> None:
    profile = LoadProfile.constant(5000, 4.0, warmup_s=0, arrival="poisson", seed=7)
    sent = times(profile)
    assert len(sent) == pytest.approx(20000, rel=0.03)
    gaps = [b - a for a, b in pairwise(sent)]
    # An exponential distribution's standard deviation equals its mean.
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.05)
    assert times(profile) == sent, "a seed gives the same schedule every time"


def test_poisson_shares_add_up_to_the_rate() -> None:
    profile = LoadProfile.constant(4000, 3.0, warmup_s=0, arrival="poisson", seed=1)
    total = sum(len(times(profile, Share(k, 2))) for k in range(2))
    assert total == pytest.approx(12000, rel=0.03)


def test_turns_split_the_schedule_between_two_and_each_gets_the_whole_load() -> None:
    alone = LoadProfile.constant(1000, 2.0, warmup_s=0.5)
    first, second = (times(alone.in_turns(0.25, k, 2)) for k in range(2))
    turn = NS // 4
    assert all(t // turn % 2 == 0 for t in first) and all(t // turn % 2 == 1 for t in second)
    # Over twice the time, each sends what the profile alone would, at its rate in its turns.
    assert len(first) == len(second) == len(times(alone))
    assert sum(1 for t in first if t < turn) == 250
