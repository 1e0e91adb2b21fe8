"""A run's result: the workers' histograms and counters merged exactly, its generator
self-check (loadgen.results.selfcheck), and the result as it is stored (HttpResult)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.results import histogram
from loadgen.results.figures import (
    Checks,
    Generator,
    Handshakes,
    Histograms,
    HttpResult,
    KindStats,
    Latency,
    Pauses,
    Percentiles,
    Pushback,
    Second,
    SendLag,
    ServerSample,
    ServerStats,
    Steal,
    WorkerStats,
)
from loadgen.results.measured import (
    KindResult,
    MissingWorker,
    PySpyProfile,
    Sample,
    WorkerResult,
    cpu_at,
)
from loadgen.results.selfcheck import GeneratorCheck, check_generator, paused_in
from loadgen.results.versions import json_text
from loadgen.workloads.profile import LoadProfile


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

    def stats(self) -> KindStats:
        """As it is stored."""
        return KindStats(
            requests=self.requests,
            latency_us=Latency(corrected=Percentiles(**histogram.summary(self.corrected)),
                               uncorrected=Percentiles(**histogram.summary(self.uncorrected))),
            send_lag_us=SendLag(**histogram.summary(self.send_lag, ("p50", "p99"))),
            status={str(code): n for code, n in sorted(self.status.items())},
            errors=dict(sorted(self.errors.items())),
            checks=Checks(sampled=self.checked, failed=dict(self.failures)),
            histograms=Histograms(corrected=histogram.encode(self.corrected),
                                  uncorrected=histogram.encode(self.uncorrected),
                                  send_lag=histogram.encode(self.send_lag)))


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
        return check_generator(self.profile, self.workers, self.duration_s, self.requests,
                               bool(self.total.errors))

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

    # -- output ------------------------------------------------------------------------------------

    def handshakes(self) -> Handshakes | None:
        """The workers' TLS handshakes merged; None over plain connections."""
        timed = [w.handshakes for w in self.workers if w.handshakes]
        if not timed:
            return None
        merged = histogram.merge(timed)
        return Handshakes(count=int(merged.get_total_count()),
                          resumed=sum(w.resumed for w in self.workers),
                          **histogram.summary(merged, ("p50", "p99")),
                          histogram=histogram.encode(merged))

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

    def record(self) -> HttpResult:
        """The result as it is stored (loadgen.results.figures)."""
        check = self.check_generator()
        steal, server_steal = self.steal_ms(server=False), self.steal_ms(server=True)
        whole = self.total.stats()
        longest = max(check.pauses, key=lambda p: p[1], default=None)
        server = self.server
        return HttpResult(
            target=self.target, profile=self.profile, requests=self.requests,
            duration_s=round(self.duration_s, 6), throughput_rps=round(self.throughput_rps, 3),
            latency_us=whole.latency_us, send_lag_us=whole.send_lag_us, status=whole.status,
            errors=whole.errors, valid=self.valid, invalid_reasons=tuple(self.invalid_reasons()),
            generator_bound=check.bound, causes=tuple(check.causes),
            generator=Generator(
                reasons=check.reasons, intended_rps=check.intended_rps,
                achieved_rps=round(check.achieved_rps, 3),
                generator_lag_p99_us=check.generator_lag_p99_us, late_sends=check.late,
                waited_for_connection=round(check.waited_fraction, 6),
                cpu_fraction=round(check.cpu_fraction, 4),
                core_wait_fraction=round(check.core_wait_fraction, 4),
                cpus=tuple(self.generator_cpus),
                processes=len(self.workers) + len(self.missing),
                unsent=sum(w.unsent for w in self.workers),
                reconnects=sum(w.reconnects for w in self.workers),
                flows_completed=sum(w.flows for w in self.workers),
                # Each worker's own figures, so that an overloaded one shows.
                workers=tuple(map(worker_stats, self.workers))),
            machine_pauses=Pauses(
                count=len(check.pauses), total_ms=round(check.paused_s * 1000, 3),
                longest_ms=round(longest[1] * 1000, 3) if longest else 0.0,
                longest_at_s=round(longest[0], 3) if longest else None,
                late_sends=check.late_in_pause,
                steal_ms=Steal(generator=round(sum(steal), 1),
                               server=round(sum(server_steal), 1))),
            server_pushback=Pushback(
                waited_for_connection=round(check.waited_fraction, 6),
                waited_in_pause=check.waited_in_pause, writes_blocked=check.write_blocked,
                write_blocked_ms=round(check.write_blocked_s * 1000, 3)),
            server_cpus=None if self.server_cpus is None else tuple(self.server_cpus),
            server_cpu_us_per_request=_rounded(self.server_cpu_us_per_request),
            server_rss_mb_max=round(server.rss_mb_max, 1) if server else None,
            server=None if server is None else ServerStats(
                name=server.name, workers=server.workers,
                samples=tuple(ServerSample(at=round(s.at - self.window[0], 3),
                                           cpu_s=round(s.cpu_s, 4), rss_mb=round(s.rss_mb, 1))
                              for s in server.samples)),
            profiled=self.profiled, py_spy=self.py_spy, interrupted=self.interrupted,
            partial=self.partial, missing_workers=tuple(self.missing),
            histograms=whole.histograms,
            tls_handshake_us=self.handshakes(),
            kinds={name: figures.stats() for name, figures in self.kinds.items()},
            # Seconds a pause touched are marked: their latencies include it.
            series=tuple(
                Second(second=i, requests=int(c.get_total_count()),
                       p50_us=int(c.get_value_at_percentile(50.0)),
                       p99_us=int(c.get_value_at_percentile(99.0)),
                       paused_ms=round(paused_in(check.pauses, i, i + 1) * 1000, 3),
                       steal_ms=steal[i] if i < len(steal) else 0.0,
                       server_steal_ms=server_steal[i] if i < len(server_steal) else 0.0)
                for i, c, _ in self.intervals()))

    def to_json(self) -> dict[str, Any]:
        return self.record().to_json()

    def json_text(self) -> str:
        """`run --json`: the stored result, with the schema version."""
        return json_text(self.record().to_json(), indent=2)

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


def worker_stats(worker: WorkerResult) -> WorkerStats:
    """One worker's own figures, so that an overloaded one shows."""
    requests = int(histogram.merge(k.corrected for k in worker.kinds.values())
                   .get_total_count())
    lag = histogram.merge(k.send_lag for k in worker.kinds.values())
    return WorkerStats(
        index=worker.share.index, where=worker.where, requests=requests,
        throughput_rps=round(requests / worker.measured_s, 3) if worker.measured_s else 0.0,
        send_lag_p99_us=int(lag.get_value_at_percentile(99.0)),
        cpu_fraction=round(worker.cpu_fraction, 4), cpus=tuple(worker.cpus))
