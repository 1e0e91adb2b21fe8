"""What the engine and the samplers hand over, as plain records: one worker's measurement with
its request kinds and seconds, the server's resource samples, a py-spy recording's outcome.
A run's result (loadgen.results.run) is merged from these; they pickle, so they cross process
and cluster boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from loadgen.results.codec import Record
from loadgen.workloads.profile import Share

# A send this much later than "due, and a connection free" is late: the generator's fault,
# unless a pause of the machine covers the lateness.
LATE_NS = 5_000_000


@dataclass
class KindResult:
    """Encoded histograms (µs) and counters of one request kind, as a worker returns them."""

    corrected: str
    uncorrected: str
    send_lag: str
    status: dict[int, int]
    errors: dict[str, int]
    checked: int
    failures: dict[str, int]


@dataclass(frozen=True)
class Interval:
    """One second of the measured window, all request kinds together."""

    index: int
    requests: int
    corrected: str
    uncorrected: str


@dataclass
class WorkerResult:
    """Everything a worker measured, in a form that pickles and merges exactly."""

    share: Share
    start_epoch_s: float
    measured_s: float
    kinds: dict[str, KindResult]
    intervals: list[Interval]
    errors: dict[str, int]
    intended: int
    sent: int
    unsent: int
    waited: int
    reconnects: int
    flows: int  # multi-step flows run to their end
    generator_lag: str
    cpu_fraction: float  # CPU time over unpaused wall time, window start to drain end
    interrupted: bool
    cpus: tuple[int, ...] = field(default=())
    where: str = ""  # the Dask worker that ran it, on a cluster
    # The self-check's counts (see loadgen.engine.pauses and loadgen.results.selfcheck):
    late: int = 0  # sends late by more than LATE_NS that no pause explains
    late_in_pause: int = 0  # sends as late, all but LATE_NS of it inside a pause
    waited_in_pause: int = 0  # of the sends that waited for a connection: due inside a pause
    core_wait_fraction: float = 0.0  # runnable but waiting for its core, over unpaused time
    pauses: tuple[tuple[float, float], ...] = ()  # (start, length) in s after the window start
    steal_ms: dict[int, tuple[float, ...]] = field(default_factory=dict)  # core -> per second
    write_blocked: int = 0  # requests whose write found the socket full (the server's doing)
    write_blocked_s: float = 0.0  # the time they waited for it
    handshakes: str = ""  # TLS: the encoded histogram of handshake times (µs); "" without
    resumed: int = 0  # of those handshakes, the ones that resumed an earlier session


@dataclass(frozen=True)
class MissingWorker(Record):
    """A worker that ended without a result (its share of the load is missing): a local
    process, or a task on a cluster's worker `where`. Stored as it is, in the result."""

    index: int
    exitcode: int | None
    where: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the epoch
    cpu_s: float  # user + system CPU of the process tree so far
    rss_mb: float  # resident memory of the process tree


def cpu_at(samples: list[Sample], at: float) -> float:
    """The tree's CPU seconds at instant `at`, interpolated linearly between samples."""
    if at <= samples[0].at:
        return samples[0].cpu_s
    for before, after in pairwise(samples):
        if before.at <= at <= after.at:
            share = (at - before.at) / (after.at - before.at) if after.at > before.at else 1.0
            return before.cpu_s + share * (after.cpu_s - before.cpu_s)
    return samples[-1].cpu_s


@dataclass(frozen=True)
class PySpyProfile(Record):
    """What a recording left: its files, its samples and the cores py-spy ran on; or, with
    `problem`, why there is no profile."""

    cores: tuple[int, ...]
    rate_hz: int
    speedscope: Path | None = None
    flamegraph: Path | None = None
    samples: int = 0
    problem: str | None = None
