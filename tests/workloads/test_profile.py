from __future__ import annotations

import pytest

from loadgen.errors import LoadgenError
from loadgen.workloads.profile import LoadProfile, Stage, parse_duration, parse_stages


@pytest.mark.parametrize(("text", "seconds"), [("10", 10), ("2.5s", 2.5), ("500ms", 0.5),
                                               ("2m", 120)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "5h", "-1s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(LoadgenError):
        parse_duration(text)


def test_stages() -> None:
    assert parse_stages("10s:1000,20s:5000") == (Stage(10, 1000), Stage(20, 5000))
    with pytest.raises(LoadgenError, match="not a stage"):
        parse_stages("10s")
    with pytest.raises(LoadgenError, match="not a rate"):
        parse_stages("10s:fast")


@pytest.mark.parametrize("kwargs", [
    {"connections": 0}, {"duration_s": 0}, {"duration_s": -1}, {"warmup_s": -1},
    {"timeout_s": 0}, {"processes": 0}, {"connections": 2, "processes": 3},
])
def test_profile_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(LoadgenError):
        LoadProfile(**kwargs)  # type: ignore[arg-type]


def test_rate_must_be_positive() -> None:
    with pytest.raises(LoadgenError, match="--rate must be positive"):
        LoadProfile.constant(0, 5)
    with pytest.raises(LoadgenError):
        LoadProfile.staged((Stage(5, 100), Stage(5, 0)))


def test_in_turns_stretches_the_profile_and_turns_need_an_open_loop() -> None:
    paired = LoadProfile.staged((Stage(2, 100), Stage(3, 500)), warmup_s=1).in_turns(0.5, 1, 2)
    assert paired.duration_s == 10 and paired.warmup_s == 2
    assert [s.duration_s for s in paired.stages] == [4, 6]
    assert "in turn 2 of every 2 of 0.5 s" in paired.describe()
    with pytest.raises(LoadgenError, match="turns need an open-loop schedule"):
        LoadProfile().in_turns(0.5, 0, 2)
