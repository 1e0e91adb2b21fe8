"""A history's files, as the campaigns write them and the analyses and reports read them:
`points.json` (every point ever measured, in axis order), the trials of its run folders,
`confirmed.json` (the A/B verdicts of change points) and the nightly job's `accepted.json`
(the commits it accepted, oldest first). Each list file carries the schema version
(loadgen.results.versions); one of version 1 is a bare list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from packaging.version import Version

from loadgen.results.codec import Record
from loadgen.results.model import Trial
from loadgen.results.store import read_trial
from loadgen.results.versions import read_list, write_list


@dataclass(frozen=True)
class Point(Record):
    """One commit or one version: where it sits and how to install it."""

    kind: Literal["commit", "version"]
    key: str  # the full commit hash, or the version
    label: str  # a short hash, or the version
    requirement: str  # what the environment installs for the subject at this point
    date: str = ""  # commit date or first upload, ISO 8601
    title: str = ""  # the commit's subject line


def _order(point: Point) -> tuple[Any, ...]:
    if point.kind == "version":
        return (Version(point.key),)
    # First-parent order follows the commit date: a range's commits are measured in the order
    # they were committed.
    return (datetime.fromisoformat(point.date),)


def known_points(home: Path) -> list[Point]:
    """The points of this history, in axis order."""
    path = home / "points.json"
    return read_list(path, "points", Point) if path.exists() else []


def record_points(home: Path, points: Iterable[Point]) -> None:
    merged = {p.key: p for p in known_points(home)} | {p.key: p for p in points}
    ordered = sorted(merged.values(), key=_order)
    write_list(home / "points.json", "points", ordered)


def trials(home: Path) -> list[Trial]:
    """Every trial of this history, from all its runs."""
    return [read_trial(path) for path in sorted(home.glob("*/trial-*.json"))]


@dataclass(frozen=True, kw_only=True)
class Noise(Record):
    """The noise an A/B saw, in log ratio (loadgen.analysis.compare.Comparison)."""

    level: float  # the interval's confidence
    spread: float | None  # of one round
    half_width: float | None  # of the interval


@dataclass(frozen=True, kw_only=True)
class Confirmed(Record):
    """The A/B verdict on one metric across a change point."""

    scenario: str
    before: str  # point keys
    after: str
    metric: str  # its label
    ratio: float | None  # after / before, with its interval
    low: float | None
    high: float | None
    rounds: int
    verdict: str
    samples: int | None = None  # too few samples: the fewest a trial had
    noise: Noise | None = None  # None: not recorded before version 2
    run: str  # the run folder of the A/B

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.scenario, self.metric, self.before, self.after)


def confirmed(home: Path) -> dict[tuple[str, str, str, str], Confirmed]:
    """The kept A/B verdicts, by (scenario, metric label, before, after)."""
    path = home / "confirmed.json"
    return {e.key: e for e in read_list(path, "confirmed", Confirmed)} if path.exists() else {}


def record_confirmed(home: Path, entries: Iterable[Confirmed]) -> None:
    write_list(home / "confirmed.json", "confirmed", entries)


@dataclass(frozen=True, kw_only=True)
class Accepted(Record):
    """A commit the nightly job accepted: no regression beyond δ."""

    key: str
    label: str
    title: str
    accepted_at: str  # ISO 8601, local time with its offset


def accepted_commits(home: Path) -> list[Accepted]:
    path = home / "accepted.json"
    return read_list(path, "accepted", Accepted) if path.exists() else []


def record_accepted(home: Path, entries: Iterable[Accepted]) -> None:
    write_list(home / "accepted.json", "accepted", entries)
