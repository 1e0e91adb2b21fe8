"""A run's result: the workers' histograms and counters merged exactly, and the generator's
verdict on itself."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen import histogram
from loadgen.engine import WorkerResult
from loadgen.profile import LoadProfile
from loadgen.pyspy import PySpyProfile
from loadgen.recording import KindResult
from loadgen.usage import Sample, cpu_at

# The generator is behind its schedule when its own lateness (time from "due and a connection was
# free" to the write) has a p99 above this, or when it sent fewer than RATE_FLOOR of the planned
# requests although almost none of them had to wait for a connection.
GENERATOR_LAG_P99_LIMIT_US = 5_000
RATE_FLOOR = 0.97
WAITED_CEILING = 0.01
# A generator process that keeps its core this busy reads responses late: in closed loop that
# caps the throughput, in open loop it adds to both latencies and to the queue.
CPU_CEILING = 0.95


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
    """How well the generator kept up, and whether the run measured it rather than the server."""

    intended_rps: float | None
    achieved_rps: float
    generator_lag_p99_us: int
    waited_fraction: float
    cpu_fraction: float
    reasons: tuple[str, ...]

    @property
    def bound(self) -> bool:
        return bool(self.reasons)


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
        return self.requests / self.duration_s if self.duration_s else 0.0

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

    def check_generator(self) -> GeneratorCheck:
        duration = self.duration_s or 1.0
        sent = sum(w.sent for w in self.workers) if self.profile.open_loop else self.requests
        cpu_fraction = max((w.cpu_fraction for w in self.workers), default=0.0)
        lag_p99 = int(histogram.merge(w.generator_lag for w in self.workers)
                      .get_value_at_percentile(99.0))
        waited = sum(w.waited for w in self.workers) / sent if sent else 0.0
        reasons = []
        intended_rps = None
        if self.profile.open_loop:
            intended = sum(w.intended for w in self.workers)
            intended_rps = intended / duration
            if lag_p99 > GENERATOR_LAG_P99_LIMIT_US:
                reasons.append(f"it sent late although connections were free "
                               f"(generator lag p99 {lag_p99 / 1000:.1f} ms > "
                               f"{GENERATOR_LAG_P99_LIMIT_US / 1000:g} ms)")
            if (intended and sent < RATE_FLOOR * intended and waited < WAITED_CEILING
                    and not self.total.errors):
                reasons.append(f"it sent {sent / intended:.0%} of the scheduled requests "
                               f"although almost none waited for a connection")
        if cpu_fraction >= CPU_CEILING:
            effect = ("responses may have waited to be read, so latency and queueing are "
                      "partly the generator's" if self.profile.open_loop else
                      "the throughput may be the generator's limit, not the server's")
            reasons.append(f"its process kept its core {cpu_fraction:.0%} busy: {effect}")
        return GeneratorCheck(intended_rps, sent / duration, lag_p99, waited, cpu_fraction,
                              tuple(reasons))

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
            "generator": {
                "reasons": list(check.reasons),
                "intended_rps": check.intended_rps,
                "achieved_rps": round(check.achieved_rps, 3),
                "generator_lag_p99_us": check.generator_lag_p99_us,
                "waited_for_connection": round(check.waited_fraction, 6),
                "cpu_fraction": round(check.cpu_fraction, 4),
                "cpus": list(self.generator_cpus),
                "processes": len(self.workers) + len(self.missing),
                "unsent": sum(w.unsent for w in self.workers),
                "reconnects": sum(w.reconnects for w in self.workers),
                "flows_completed": sum(w.flows for w in self.workers),
                # Each worker's own figures, so that an overloaded one shows.
                "workers": [worker_figures(w) for w in self.workers],
            },
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
            "series": [
                {"second": i, "requests": int(c.get_total_count()),
                 "p50_us": int(c.get_value_at_percentile(50.0)),
                 "p99_us": int(c.get_value_at_percentile(99.0))}
                for i, c, _ in self.intervals()
            ],
        }

    def write_json(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.to_json(), indent=2) + "\n")

    def write_hlog(self, path: Path) -> None:
        start = self.window[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            histogram.write_interval_log(
                out,
                ((float(i), 1.0, {"corrected": c, "uncorrected": u})
                 for i, c, u in self.intervals()),
                start,
                f"loadgen interval log: {self.target}; values in microseconds",
            )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def worker_figures(worker: WorkerResult) -> dict[str, Any]:
    """One worker's own figures (JSON-ready), so that an overloaded one shows."""
    requests = int(histogram.merge(k.corrected for k in worker.kinds.values())
                   .get_total_count())
    lag = histogram.merge(k.send_lag for k in worker.kinds.values())
    return {"index": worker.share.index, "where": worker.where, "requests": requests,
            "throughput_rps": round(requests / worker.measured_s, 3) if worker.measured_s
            else 0.0, "send_lag_p99_us": int(lag.get_value_at_percentile(99.0)),
            "cpu_fraction": round(worker.cpu_fraction, 4), "cpus": list(worker.cpus)}
