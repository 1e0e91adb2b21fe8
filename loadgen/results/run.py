"""A run's result: the workers' histograms and counters merged exactly, and the generator's
verdict on itself."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen import histogram
from loadgen.engine import LATE_NS, WorkerResult
from loadgen.profile import LoadProfile
from loadgen.pyspy import PySpyProfile
from loadgen.recording import KindResult
from loadgen.usage import Sample, cpu_at

# The self-check tells three causes apart (BENCHMARKING.md, sections 1 and 6); only the first
# leaves a trial out of verdicts.
# 1. The generator could not keep up. It sent late although connections were free: more than
#    LATE_SHARE of its sends, and at least LATE_MIN of them (a share of a few dozen sends says
#    nothing), each late by over engine.LATE_NS beyond any pause. Or its core was saturated: its
#    own CPU plus its waiting for the core behind other processes, over the time it was not
#    paused. Or it sent fewer than RATE_FLOOR of the planned requests although almost none had to
#    wait for a connection.
# 2. The machine paused (loadgen.pauses): reported with its length, per second; sends it delayed
#    do not count against the generator.
# 3. The server pushed back: more than PUSHBACK_SHARE of the requests waited for a busy
#    connection (leaving out those due inside a pause: a pause leaves a backlog), or writes
#    waited for a full socket.
LATE_SHARE = 0.01
LATE_MIN = 20
RATE_FLOOR = 0.97
WAITED_CEILING = 0.01
# A generator process that keeps its core this busy reads responses late: in closed loop that
# caps the throughput, in open loop it adds to both latencies and to the queue.
CPU_CEILING = 0.95
# From this share of its time waiting for its core, the generator's core is said to be shared.
SHARED_CORE = 0.05
# Pauses of 1 ms are common on a virtual machine: a run names the machine as a cause from this
# much pause in all, or from one send it delayed.
PAUSE_REPORTED_MS = 10
PUSHBACK_SHARE = 0.05


@dataclass(frozen=True)
class MissingWorker:
    """A worker that ended without a result (its share of the load is missing): a local
    process, or a task on a cluster's worker `where`."""

    index: int
    exitcode: int | None
    where: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ServerFigures:
    """The server loadgen started: which, and its sampled CPU and memory."""

    name: str
    workers: int
    samples: list[Sample]

    def cpu_us_per_request(self, window: tuple[float, float], requests: int) -> float | None:
        """Server CPU (all its processes) in the measured window, per request served."""
        if not requests or len(self.samples) < 2:
            return None
        return (cpu_at(self.samples, window[1]) - cpu_at(self.samples, window[0])) \
            / requests * 1e6

    @property
    def rss_mb_max(self) -> float:
        return max((s.rss_mb for s in self.samples), default=0.0)


@dataclass
class KindFigures:
    """The merged measurements of one request kind (or of the whole run)."""

    corrected: HdrHistogram
    uncorrected: HdrHistogram
    send_lag: HdrHistogram
    status: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    @classmethod
    def merge(cls, parts: list[KindResult]) -> KindFigures:
        figures = cls(
            histogram.merge(p.corrected for p in parts),
            histogram.merge(p.uncorrected for p in parts),
            histogram.merge(p.send_lag for p in parts),
        )
        for part in parts:
            figures.status.update(part.status)
            figures.errors.update(part.errors)
            figures.checked += part.checked
            figures.failures.update(part.failures)
        return figures

    @property
    def requests(self) -> int:
        return int(self.corrected.get_total_count())

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "latency_us": {
                "corrected": histogram.summary(self.corrected),
                "uncorrected": histogram.summary(self.uncorrected),
            },
            "send_lag_us": histogram.summary(self.send_lag, ("p50", "p99")),
            "status": {str(code): n for code, n in sorted(self.status.items())},
            "errors": dict(sorted(self.errors.items())),
            "checks": {"sampled": self.checked, "failed": dict(self.failures)},
            "histograms": {
                "corrected": histogram.encode(self.corrected),
                "uncorrected": histogram.encode(self.uncorrected),
                "send_lag": histogram.encode(self.send_lag),
            },
        }


@dataclass(frozen=True)
class GeneratorCheck:
    """How well the generator kept up, whether the machine paused, whether the server pushed
    back; and so whether the run measured the server rather than the generator."""

    intended_rps: float | None
    achieved_rps: float
    generator_lag_p99_us: int
    waited_fraction: float  # of the sends: due while every connection was busy
    waited_in_pause: int  # of those: due inside a pause
    cpu_fraction: float  # the busiest worker's, over its unpaused time
    core_wait_fraction: float  # the same worker's waiting for its core behind other processes
    sent: int
    late: int  # sends late with a connection free, beyond any pause
    late_in_pause: int  # sends late only by a pause
    pauses: tuple[tuple[float, float], ...]  # (start, length) in s after the window's start
    write_blocked: int
    write_blocked_s: float
    reasons: tuple[str, ...]  # why the generator could not keep up; empty when it did

    @property
    def bound(self) -> bool:
        return bool(self.reasons)

    @property
    def paused_s(self) -> float:
        return sum(length for _, length in self.pauses)

    def pause_json(self) -> dict[str, Any]:
        longest = max(self.pauses, key=lambda p: p[1], default=None)
        return {"count": len(self.pauses), "total_ms": round(self.paused_s * 1000, 3),
                "longest_ms": round(longest[1] * 1000, 3) if longest else 0.0,
                "longest_at_s": round(longest[0], 3) if longest else None,
                "late_sends": self.late_in_pause}

    def pushback_json(self) -> dict[str, Any]:
        return {"waited_for_connection": round(self.waited_fraction, 6),
                "waited_in_pause": self.waited_in_pause,
                "writes_blocked": self.write_blocked,
                "write_blocked_ms": round(self.write_blocked_s * 1000, 3)}


def merge_pauses(pauses: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The union of several workers' pauses: a pause of the machine holds them all at once."""
    merged: list[tuple[float, float]] = []
    for start, length in sorted(pauses):
        if merged and start <= merged[-1][0] + merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], start + length - last[0]))
        else:
            merged.append((start, length))
    return tuple(merged)


def paused_in(pauses: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end) inside the pauses."""
    return sum(max(0.0, min(end, s + n) - max(start, s)) for s, n in pauses)


@dataclass
class RunResult:
    """The merged outcome of one run of one or more workers."""

    target: str
    profile: LoadProfile
    workers: list[WorkerResult]
    generator_cpus: tuple[int, ...]
    server_cpus: tuple[int, ...] | None = None
    missing: list[MissingWorker] = field(default_factory=list)
    server: ServerFigures | None = None
    expected_status: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    py_spy: PySpyProfile | None = None  # the server's profile, when it was asked for
    kinds: dict[str, KindFigures] = field(init=False)
    total: KindFigures = field(init=False)

    def __post_init__(self) -> None:
        names = dict.fromkeys(k for w in self.workers for k in w.kinds)
        self.kinds = {
            name: KindFigures.merge([w.kinds[name] for w in self.workers if name in w.kinds])
            for name in names
        }
        self.total = KindFigures.merge([k for w in self.workers for k in w.kinds.values()])
        # Run-level errors include those that belong to no request (failed reconnects).
        self.total.errors = Counter()
        for worker in self.workers:
            self.total.errors.update(worker.errors)

    # -- headline figures ------------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        return max((w.measured_s for w in self.workers), default=0.0)

    @property
    def requests(self) -> int:
        return self.total.requests

    @property
    def throughput_rps(self) -> float:
        """Requests a second of the time it was loaded: in turns, of its own turns."""
        busy = self.duration_s * self.profile.turns.share
        return self.requests / busy if busy else 0.0

    @property
    def window(self) -> tuple[float, float]:
        """The measured window, in seconds since the epoch."""
        start = min((w.start_epoch_s for w in self.workers), default=0.0) + self.profile.warmup_s
        return start, start + self.duration_s

    @property
    def server_cpu_us_per_request(self) -> float | None:
        if self.server is None:
            return None
        return self.server.cpu_us_per_request(self.window, self.requests)

    @property
    def profiled(self) -> bool:
        """Whether py-spy sampled the server in the window: its figures are then perturbed."""
        return self.py_spy is not None and self.py_spy.problem is None

    @property
    def interrupted(self) -> bool:
        return any(w.interrupted for w in self.workers)

    @property
    def partial(self) -> bool:
        return bool(self.missing)

    def invalid_reasons(self) -> list[str]:
        """Why the figures cannot be trusted as a measurement of correct answers: statuses
        other than expected (all responses), failed sampled checks, failed requests."""
        reasons = []
        if not self.requests:
            reasons.append("no response was received")
        for name, figures in self.kinds.items():
            expected = self.expected_status.get(name, (200,))
            wrong = {code: n for code, n in figures.status.items() if code not in expected}
            if wrong:
                listed = ", ".join(f"{n:,} x {code}" for code, n in sorted(wrong.items()))
                reasons.append(f"{name}: status {listed}, expected "
                               f"{' or '.join(map(str, expected))}")
            if figures.failures:
                problem, count = figures.failures.most_common(1)[0]
                reasons.append(f"{name}: {sum(figures.failures.values()):,} of "
                               f"{figures.checked:,} checked responses wrong, e.g. {count:,} "
                               f"with {problem}")
        if self.total.errors:
            listed = ", ".join(f"{kind} {n:,}" for kind, n in sorted(self.total.errors.items()))
            reasons.append(f"failed requests: {listed}")
        return reasons

    @property
    def valid(self) -> bool:
        return not self.invalid_reasons()

    @property
    def succeeded(self) -> int:
        """Responses with a status expected of their kind."""
        return sum(n for name, figures in self.kinds.items()
                   for code, n in figures.status.items()
                   if code in self.expected_status.get(name, (200,)))

    @property
    def failed_share(self) -> float:
        """Of the requests the window sent or tried to, the share that did not succeed:
        errors (time-outs, resets, connects that failed) and unexpected statuses."""
        attempted = self.requests + sum(self.total.errors.values())
        return 1 - self.succeeded / attempted if attempted else 1.0

    def check_generator(self) -> GeneratorCheck:
        duration = (self.duration_s or 1.0) * self.profile.turns.share  # in its turns
        open_loop = self.profile.open_loop
        sent = sum(w.sent for w in self.workers) if open_loop else self.requests
        busiest = max(self.workers, key=lambda w: w.cpu_fraction + w.core_wait_fraction,
                      default=None)
        cpu = busiest.cpu_fraction if busiest else 0.0
        core_wait = busiest.core_wait_fraction if busiest else 0.0
        lag_p99 = int(histogram.merge(w.generator_lag for w in self.workers)
                      .get_value_at_percentile(99.0))
        waited = sum(w.waited for w in self.workers) / sent if sent else 0.0
        late = sum(w.late for w in self.workers)
        reasons = []
        intended_rps = None
        if open_loop:
            intended = sum(w.intended for w in self.workers)
            intended_rps = intended / duration
            if late >= LATE_MIN and late > LATE_SHARE * sent:
                shared = (f"; its core was shared: it waited for it {core_wait:.0%} of the time "
                          f"behind other processes" if core_wait >= SHARED_CORE else "")
                reasons.append(f"it sent {late:,} of {sent:,} requests ({late / sent:.1%}) over "
                               f"{LATE_NS / 1e6:g} ms late although connections were free, "
                               f"beyond any pause of the machine{shared}")
            if (intended and sent < RATE_FLOOR * intended and waited < WAITED_CEILING
                    and not self.total.errors):
                reasons.append(f"it sent {sent / intended:.0%} of the scheduled requests "
                               f"although almost none waited for a connection")
        if cpu + core_wait >= CPU_CEILING:
            effect = ("responses may have waited to be read, so latency and queueing are "
                      "partly the generator's" if open_loop else
                      "the throughput may be the generator's limit, not the server's")
            shared = (f", {core_wait:.0%} waiting for it behind other processes"
                      if core_wait >= SHARED_CORE else "")
            reasons.append(f"its core was saturated ({cpu:.0%} its own work{shared}): {effect}")
        return GeneratorCheck(
            intended_rps, sent / duration, lag_p99, waited,
            sum(w.waited_in_pause for w in self.workers), cpu, core_wait, sent, late,
            sum(w.late_in_pause for w in self.workers),
            merge_pauses(p for w in self.workers for p in w.pauses),
            sum(w.write_blocked for w in self.workers),
            sum(w.write_blocked_s for w in self.workers), tuple(reasons))

    def steal_ms(self, server: bool) -> list[float]:
        """Stolen ms in each second of the window: on the generator's cores (the worst of its
        workers), or on the server's (those loadgen pinned it to; none known on a cluster,
        whose workers read other machines' counters)."""
        if not server:
            rows = [_per_second(w, w.cpus) for w in self.workers]
        elif self.workers and self.server_cpus and not any(w.where for w in self.workers):
            rows = [_per_second(self.workers[0], self.server_cpus)]
        else:
            rows = []
        return [max(column) for column in zip_longest(*rows, fillvalue=0.0)]

    def causes(self, check: GeneratorCheck) -> list[str]:
        """What besides the server shaped this run's figures, in the self-check's words."""
        causes = ["generator"] if check.bound else []
        if check.paused_s * 1000 >= PAUSE_REPORTED_MS or check.late_in_pause:
            causes.append("machine pause")
        waited = check.waited_fraction - (check.waited_in_pause / check.sent if check.sent else 0)
        if waited > PUSHBACK_SHARE or check.write_blocked:
            causes.append("server pushback")
        return causes

    # -- output ------------------------------------------------------------------------------------

    def intervals(self) -> list[tuple[int, HdrHistogram, HdrHistogram]]:
        """Per-second (index, corrected, uncorrected) histograms merged over the workers."""
        merged: dict[int, tuple[HdrHistogram, HdrHistogram]] = {}
        for worker in self.workers:
            for interval in worker.intervals:
                corrected, uncorrected = merged.setdefault(
                    interval.index, (histogram.new_histogram(), histogram.new_histogram()))
                corrected.add(HdrHistogram.decode(interval.corrected))
                uncorrected.add(HdrHistogram.decode(interval.uncorrected))
        return [(i, *merged[i]) for i in sorted(merged)]

    def to_json(self) -> dict[str, Any]:
        check = self.check_generator()
        steal, server_steal = self.steal_ms(server=False), self.steal_ms(server=True)
        whole = self.total.to_json()
        return {
            "target": self.target,
            "profile": self.profile.to_json(),
            "requests": self.requests,
            "duration_s": round(self.duration_s, 6),
            "throughput_rps": round(self.throughput_rps, 3),
            "latency_us": whole["latency_us"],
            "send_lag_us": whole["send_lag_us"],
            "status": whole["status"],
            "errors": whole["errors"],
            "valid": self.valid,
            "invalid_reasons": self.invalid_reasons(),
            "generator_bound": check.bound,
            "causes": self.causes(check),
            "generator": {
                "reasons": list(check.reasons),
                "intended_rps": check.intended_rps,
                "achieved_rps": round(check.achieved_rps, 3),
                "generator_lag_p99_us": check.generator_lag_p99_us,
                "late_sends": check.late,
                "waited_for_connection": round(check.waited_fraction, 6),
                "cpu_fraction": round(check.cpu_fraction, 4),
                "core_wait_fraction": round(check.core_wait_fraction, 4),
                "cpus": list(self.generator_cpus),
                "processes": len(self.workers) + len(self.missing),
                "unsent": sum(w.unsent for w in self.workers),
                "reconnects": sum(w.reconnects for w in self.workers),
                "flows_completed": sum(w.flows for w in self.workers),
                # Each worker's own figures, so that an overloaded one shows.
                "workers": [worker_figures(w) for w in self.workers],
            },
            "machine_pauses": {**check.pause_json(),
                               "steal_ms": {"generator": round(sum(steal), 1),
                                            "server": round(sum(server_steal), 1)}},
            "server_pushback": check.pushback_json(),
            "server_cpus": list(self.server_cpus) if self.server_cpus is not None else None,
            "server_cpu_us_per_request": _rounded(self.server_cpu_us_per_request),
            "server_rss_mb_max": round(self.server.rss_mb_max, 1) if self.server else None,
            "server": None if self.server is None else {
                "name": self.server.name,
                "workers": self.server.workers,
                "samples": [{"at": round(s.at - self.window[0], 3), "cpu_s": round(s.cpu_s, 4),
                             "rss_mb": round(s.rss_mb, 1)} for s in self.server.samples],
            },
            "profiled": self.profiled,
            "py_spy": None if self.py_spy is None else self.py_spy.to_json(),
            "interrupted": self.interrupted,
            "partial": self.partial,
            "missing_workers": [asdict(m) for m in self.missing],
            "histograms": whole["histograms"],
            "kinds": {name: figures.to_json() for name, figures in self.kinds.items()},
            # Seconds a pause touched are marked: their latencies include it.
            "series": [
                {"second": i, "requests": int(c.get_total_count()),
                 "p50_us": int(c.get_value_at_percentile(50.0)),
                 "p99_us": int(c.get_value_at_percentile(99.0)),
                 "paused_ms": round(paused_in(check.pauses, i, i + 1) * 1000, 3),
                 "steal_ms": steal[i] if i < len(steal) else 0.0,
                 "server_steal_ms": server_steal[i] if i < len(server_steal) else 0.0}
                for i, c, _ in self.intervals()
            ],
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    def hlog_text(self) -> str:
        """The per-second histograms in the HdrHistogram interval log format."""
        out = io.StringIO()
        histogram.write_interval_log(
            out,
            ((float(i), 1.0, {"corrected": c, "uncorrected": u}) for i, c, u in self.intervals()),
            self.window[0],
            f"loadgen interval log: {self.target}; values in microseconds",
        )
        return out.getvalue()


def _per_second(worker: WorkerResult, cores: Iterable[int]) -> list[float]:
    """A worker's stolen ms per second, summed over `cores`."""
    return [sum(column) for column in
            zip_longest(*(worker.steal_ms.get(core, ()) for core in cores), fillvalue=0.0)]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def worker_figures(worker: WorkerResult) -> dict[str, Any]:
    """One worker's own figures (JSON-ready), so that an overloaded one shows."""
    requests = int(histogram.merge(k.corrected for k in worker.kinds.values())
                   .get_total_count())
    lag = histogram.merge(k.send_lag for k in worker.kinds.values())
    return {"index": worker.share.index, "where": worker.where, "requests": requests,
            "throughput_rps": round(requests / worker.measured_s, 3) if worker.measured_s
            else 0.0, "send_lag_p99_us": int(lag.get_value_at_percentile(99.0)),
            "cpu_fraction": round(worker.cpu_fraction, 4), "cpus": list(worker.cpus)}
