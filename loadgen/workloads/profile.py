"""The load profile: how much load, shaped how, for how long."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from loadgen.errors import LoadgenError

Arrival = Literal["constant", "poisson"]


@dataclass(frozen=True)
class Stage:
    """A stretch of an open-loop run: the rate ramps linearly to `rate` over `duration_s`.

    The first stage starts at its own rate, so a single stage is a constant rate.
    """

    duration_s: float
    rate: float


@dataclass(frozen=True)
class Turns:
    """Open loop in turns: the schedule runs only in turn `index` of every `count` turns of
    `length_s` each (warm-up included), and is silent in the others. Two servers loaded in
    turns, one turn each, share the host's moods: see loadgen.pairing."""

    length_s: float = 0.0
    index: int = 0
    count: int = 1

    @property
    def share(self) -> float:
        """The part of the time this schedule runs."""
        return 1 / self.count


@dataclass(frozen=True)
class LoadProfile:
    """Everything that shapes the load, independent of what is requested and where.

    Closed loop when `stages` is empty: every connection sends its next request as soon as the
    previous response is complete. Open loop otherwise: requests follow the schedule given by
    `stages` and `arrival`, whatever the server does.
    """

    connections: int = 64
    stages: tuple[Stage, ...] = ()
    arrival: Arrival = "constant"
    duration_s: float = 10.0
    warmup_s: float = 1.0
    timeout_s: float = 5.0
    processes: int = 1
    seed: int = 0
    # The least time between two wake-ups of the open-loop scheduler; a request may be sent up
    # to this late so that one wake-up sends several (the send lag says what it cost).
    timer_slack_s: float = 0.0001
    turns: Turns = Turns()

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise LoadgenError("--connections must be at least 1")
        if self.processes < 1:
            raise LoadgenError("--processes must be at least 1")
        if self.connections < self.processes:
            raise LoadgenError("--connections must be at least --processes (one per process)")
        if self.duration_s <= 0:
            raise LoadgenError("--duration must be positive")
        if self.warmup_s < 0:
            raise LoadgenError("--warmup must not be negative")
        if self.timeout_s <= 0:
            raise LoadgenError("--timeout must be positive")
        if self.timer_slack_s < 0:
            raise LoadgenError("--timer-slack must not be negative")
        for stage in self.stages:
            if not (_positive(stage.duration_s) and _positive(stage.rate)):
                raise LoadgenError("every stage needs a positive duration and a positive rate, "
                                   f"not {stage.duration_s:g} s at {stage.rate:g} req/s")
        if self.stages and abs(sum(s.duration_s for s in self.stages) - self.duration_s) > 1e-9:
            raise LoadgenError("the stages' durations must add up to the run's duration")
        if self.turns.count > 1 and not (self.open_loop and self.turns.length_s > 0):
            raise LoadgenError("turns need an open-loop schedule and a positive turn length")

    @property
    def open_loop(self) -> bool:
        return bool(self.stages)

    @classmethod
    def constant(cls, rate: float, duration_s: float, **kwargs: object) -> LoadProfile:
        if not _positive(rate):
            raise LoadgenError(f"--rate must be positive, not {rate:g}")
        return cls(stages=(Stage(duration_s, rate),), duration_s=duration_s, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def staged(cls, stages: tuple[Stage, ...], **kwargs: object) -> LoadProfile:
        return cls(stages=stages, duration_s=sum(s.duration_s for s in stages), **kwargs)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """As stored in results (lists for tuples), so a stored one compares equal to it."""
        return json.loads(json.dumps(asdict(self)))  # type: ignore[no-any-return]

    def describe(self) -> str:
        """One line saying what load this profile applies."""
        if not self.open_loop:
            head = f"closed loop, {self.connections} connections"
        elif len(self.stages) == 1:
            head = (f"open loop, {self.arrival} arrivals at {self.stages[0].rate:g} req/s, "
                    f"up to {self.connections} connections")
        else:
            ramp = ", ".join(f"{s.duration_s:g}s:{s.rate:g}" for s in self.stages)
            head = (f"open loop, {self.arrival} arrivals, stages {ramp}, "
                    f"up to {self.connections} connections")
        if self.turns.count > 1:
            head += (f", in turn {self.turns.index + 1} of every {self.turns.count} of "
                     f"{self.turns.length_s:g} s")
        return (f"{head}; {self.duration_s:g} s measured after {self.warmup_s:g} s warm-up; "
                f"{self.processes} process{'es' if self.processes > 1 else ''}")

    def in_turns(self, length_s: float, index: int, count: int) -> LoadProfile:
        """This load in turn `index` of `count`, over `count` times the time (warm-up and
        each stage stretched alike), so that its turns add up to this profile's time."""
        return replace(self, duration_s=self.duration_s * count,
                       warmup_s=self.warmup_s * count,
                       stages=tuple(Stage(s.duration_s * count, s.rate) for s in self.stages),
                       turns=Turns(length_s, index, count))


def _positive(value: float) -> bool:
    """Positive and finite: NaN compares false with everything, so `value <= 0` lets it by."""
    return math.isfinite(value) and value > 0


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(us|µs|ms|s|m)?$")


def parse_duration(text: str) -> float:
    """Seconds from '10', '10s', '500ms', '100us' or '2m'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise LoadgenError(f"not a duration: {text!r} (use e.g. 10s, 500ms, 2m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def parse_stages(text: str) -> tuple[Stage, ...]:
    """Stages from 'duration:rate,duration:rate', e.g. '10s:1000,20s:5000'."""
    stages = []
    for part in text.split(","):
        duration, sep, rate = part.partition(":")
        if not sep:
            raise LoadgenError(f"not a stage: {part!r} (use duration:rate, e.g. 10s:1000)")
        try:
            rate_value = float(rate)
        except ValueError:
            raise LoadgenError(f"not a rate in stage {part!r}") from None
        stages.append(Stage(parse_duration(duration), rate_value))
    return tuple(stages)


@dataclass(frozen=True)
class Share:
    """Worker `index` of `count` takes this fraction of the load."""

    index: int = 0
    count: int = 1
