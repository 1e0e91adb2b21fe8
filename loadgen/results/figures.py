"""A trial's result as it is stored and read: over HTTP (HttpResult, written by
loadgen.results.run), or in process, counted under callgrind (CountedResult) or timed
(TimedResult), both written by loadgen.inproc. Each field is named as its JSON key.

A field with a default is one a version 1 file may lack: it was added while the schema version
stayed 1, and the default says what such a file meant (None where it was not measured). The
in-process results' defaults are the values fixed for their kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from loadgen.results.codec import OMITTED_WHEN_NONE, Record, decode
from loadgen.results.measured import MissingWorker, PySpyProfile
from loadgen.results.versions import read
from loadgen.workloads.profile import LoadProfile


@dataclass(frozen=True, kw_only=True)
class Percentiles(Record):
    """Latency in µs at the percentiles a summary keeps (histogram.PERCENTILES) and the max."""

    p50: int
    p90: int
    p99: int
    p999: int
    p9999: int
    max: int


@dataclass(frozen=True, kw_only=True)
class Latency(Record):
    corrected: Percentiles  # from when each request was due: what a user waits
    uncorrected: Percentiles  # from when it was sent


@dataclass(frozen=True, kw_only=True)
class SendLag(Record):
    """How late the generator sent, in µs."""

    p50: int
    p99: int
    max: int


@dataclass(frozen=True, kw_only=True)
class Histograms(Record):
    """Encoded HdrHistograms (µs), for exact merging."""

    corrected: str
    uncorrected: str
    send_lag: str


@dataclass(frozen=True, kw_only=True)
class Handshakes(Record):
    """TLS handshakes in µs, from the TCP connect's end to the handshake's: the first
    connections' and every reconnect's."""

    count: int
    resumed: int  # of them, the ones that resumed an earlier session (--tls-resume)
    p50: int
    p99: int
    max: int
    histogram: str  # encoded, for exact merging


@dataclass(frozen=True, kw_only=True)
class Checks(Record):
    sampled: int  # responses checked in full
    failed: dict[str, int]  # by problem


@dataclass(frozen=True, kw_only=True)
class KindStats(Record):
    """One request kind's figures over HTTP."""

    requests: int
    latency_us: Latency
    send_lag_us: SendLag
    status: dict[str, int]  # by status code, as text
    errors: dict[str, int]
    checks: Checks
    histograms: Histograms


@dataclass(frozen=True, kw_only=True)
class WorkerStats(Record):
    """One generator worker's own figures, so that an overloaded one shows."""

    index: int
    where: str  # the Dask worker, on a cluster
    requests: int
    throughput_rps: float
    send_lag_p99_us: int
    cpu_fraction: float
    cpus: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Generator(Record):
    """The generator's self-check (loadgen.results.selfcheck) and its processes."""

    reasons: tuple[str, ...]  # why it could not keep up; empty when it did
    intended_rps: float | None  # open loop: the schedule's rate
    achieved_rps: float
    generator_lag_p99_us: int
    late_sends: int | None = None  # not counted before version 2
    waited_for_connection: float
    cpu_fraction: float
    core_wait_fraction: float | None = None  # not measured before version 2
    cpus: tuple[int, ...]
    processes: int
    unsent: int
    reconnects: int
    flows_completed: int
    workers: tuple[WorkerStats, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Steal(Record):
    """Stolen ms in the window, on the generator's cores and on the server's."""

    generator: float
    server: float


@dataclass(frozen=True, kw_only=True)
class Pauses(Record):
    """The machine's pauses in the window (loadgen.engine.pauses)."""

    count: int
    total_ms: float
    longest_ms: float
    longest_at_s: float | None
    late_sends: int  # sends late only by a pause
    steal_ms: Steal


@dataclass(frozen=True, kw_only=True)
class Pushback(Record):
    waited_for_connection: float  # share of the sends
    waited_in_pause: int
    writes_blocked: int
    write_blocked_ms: float


@dataclass(frozen=True, kw_only=True)
class ServerSample(Record):
    at: float  # s since the measured window began
    cpu_s: float
    rss_mb: float


@dataclass(frozen=True, kw_only=True)
class ServerStats(Record):
    name: str
    workers: int
    samples: tuple[ServerSample, ...]


@dataclass(frozen=True, kw_only=True)
class Second(Record):
    """One second of the window, all request kinds together. A pause's ms mark the seconds it
    touched: their latencies include it."""

    second: int
    requests: int
    p50_us: int
    p99_us: int
    paused_ms: float | None = None  # None: not recorded before version 2
    steal_ms: float | None = None
    server_steal_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class HttpResult(Record):
    """A run over HTTP: the merged figures of its workers, its self-check, the server's."""

    target: str
    profile: LoadProfile
    requests: int
    duration_s: float
    throughput_rps: float
    latency_us: Latency
    send_lag_us: SendLag
    status: dict[str, int]
    errors: dict[str, int]
    valid: bool
    invalid_reasons: tuple[str, ...]
    generator_bound: bool
    causes: tuple[str, ...] = ()  # what besides the server shaped the figures
    generator: Generator
    machine_pauses: Pauses | None = None  # None: not looked for before version 2
    server_pushback: Pushback | None = None
    server_cpus: tuple[int, ...] | None
    server_cpu_us_per_request: float | None
    server_rss_mb_max: float | None
    server: ServerStats | None
    profiled: bool = False  # py-spy sampled the server: its figures bear the cost
    py_spy: PySpyProfile | None = None
    interrupted: bool
    partial: bool
    missing_workers: tuple[MissingWorker, ...]
    histograms: Histograms
    tls_handshake_us: Handshakes | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    kinds: dict[str, KindStats]
    series: tuple[Second, ...]

    @property
    def open_loop(self) -> bool:
        return self.profile.open_loop


@dataclass(frozen=True, kw_only=True)
class InProcess(Record):
    """What both in-process results share. Shaped as a run's where it can be: no schedule (a
    reader of every result's profile finds closed loop), valid and never generator-bound (the
    driver checks every answer and has no generator to fall behind)."""

    driver: Literal["callgrind", "inproc"]  # which of the two (its own class narrows it)
    valid: bool = True
    generator_bound: bool = False
    profile: dict[str, tuple[Any, ...]] = field(default_factory=lambda: {"stages": ()})
    cores: tuple[int, ...]
    python: str
    hash_seed: str
    profiled: bool
    py_spy: PySpyProfile | None

    @property
    def open_loop(self) -> bool:
        return False


@dataclass(frozen=True, kw_only=True)
class CountedKind(Record):
    instructions_per_request: float
    # The counted calls' total by their number (before the fork per kind: the totals of two
    # runs, by their number of calls, whose difference was taken).
    instructions: dict[str, int]
    weight: float  # in the scenario's mix


@dataclass(frozen=True, kw_only=True)
class CountedResult(InProcess):
    """Instructions per request under callgrind, per request kind and over the mix."""

    driver: Literal["callgrind"] = "callgrind"
    kinds: dict[str, CountedKind]
    instructions_per_request: float | None  # over the mix; None if a kind has none
    # The allocator the target ran on while counted; None: glibc's, each kind counted in
    # processes of its own (before the fork per kind), whose counts moved with the layout.
    allocator: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True, kw_only=True)
class TimedKind(Record):
    us_per_request: float | None  # the median of the samples
    us_spread: float | None  # their standard deviation relative to it
    samples_us: tuple[float, ...]
    loops: int  # calls per sample
    weight: float


@dataclass(frozen=True, kw_only=True)
class TimedResult(InProcess):
    """µs per request timed in process, per request kind and over the mix."""

    driver: Literal["inproc"] = "inproc"
    kinds: dict[str, TimedKind]
    us_per_request: float | None


Result = HttpResult | CountedResult | TimedResult
KindRecord = KindStats | CountedKind | TimedKind  # one request kind's, of a Result


def read_result(data: Any, where: str = "", lenient: bool = False) -> Result:
    """A result of any kind, told apart by its `driver` (none over HTTP). Raises ValueError
    naming the key that does not fit."""
    driver = data.get("driver") if isinstance(data, dict) else None
    kind = {"callgrind": CountedResult, "inproc": TimedResult}.get(str(driver), HttpResult)
    return cast(Result, decode(kind, data, where, lenient))


def read_result_file(path: Path) -> Result:
    """A `run --json` or `inproc --json` file (schema version 1 or 2); any other is refused
    in one line."""
    return read(path, "a result", lambda data, lenient: read_result(data, "", lenient))
