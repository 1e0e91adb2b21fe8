"""The metrics, each defined once: its name, unit and title, which way is better, the smallest
change that counts (δ), and how to read it from a result, of the whole run or of one request
kind. compare judges them, a history's series chart them, the reports and the progress line
show them: a new metric is one entry in METRICS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from loadgen.errors import LoadgenError
from loadgen.results.figures import (
    CountedKind,
    CountedResult,
    HttpResult,
    KindRecord,
    KindStats,
    Result,
    TimedKind,
    TimedResult,
)
from loadgen.results.histogram import PERCENTILES

Figures = Result | KindRecord  # a whole run's, or one request kind's
# How far apart two measurements of the same code may be for a deterministic metric: the
# instruction counts of a kind repeated to within 0.001% here (benchmarks/instruction_speed.py),
# and within 0.01% when only the spec the driver read differed (tests/inproc/test_measure.py).
REPEATS_WITHIN = 1e-4


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    title: str  # what it is, for a panel or a progress line
    higher_is_better: bool
    delta: float  # the smallest change that counts
    read: Callable[[Figures], float | None] = field(repr=False)  # None: that figure lacks it
    per_kind: bool = False  # a request kind has one too: metric(NAME, KIND)
    each_kind: bool = False  # compared for every request kind as well as over the mix
    charted: bool = True  # drawn in a history's series
    kind: str | None = None  # one request kind's, or the whole run's
    # Repeats to within REPEATS_WITHIN when the same code is measured again: one round decides.
    deterministic: bool = False

    @property
    def label(self) -> str:
        return self.name if self.kind is None else f"{self.name} [{self.kind}]"

    @property
    def percentile(self) -> float | None:
        """A latency's percentile, whose tail needs samples enough to be judged."""
        return PERCENTILES.get(self.name)

    def figures(self, result: Result) -> Figures | None:
        return result if self.kind is None else result.kinds.get(self.kind)

    def value(self, result: Result) -> float | None:
        """The figure in one trial's result; None where that kind of trial has none (an
        in-process trial has no latency, a run over HTTP no instruction count)."""
        figures = self.figures(result)
        value = None if figures is None else self.read(figures)
        return float(value) if value else None


def _throughput(figures: Figures) -> float | None:
    # In open loop the schedule sets it, equal by construction: it says nothing of the server.
    if isinstance(figures, HttpResult) and not figures.open_loop:
        return figures.throughput_rps
    return None


def _latency(name: str) -> Callable[[Figures], float | None]:
    def read(figures: Figures) -> float | None:
        if isinstance(figures, HttpResult | KindStats):
            return float(getattr(figures.latency_us.corrected, name))
        return None
    return read


def _cpu(figures: Figures) -> float | None:
    return figures.server_cpu_us_per_request if isinstance(figures, HttpResult) else None


def _instructions(figures: Figures) -> float | None:
    if isinstance(figures, CountedResult | CountedKind):
        return figures.instructions_per_request
    return None


def _inproc_us(figures: Figures) -> float | None:
    return figures.us_per_request if isinstance(figures, TimedResult | TimedKind) else None


METRICS = (
    Metric("throughput", "req/s", "throughput", True, 0.05, _throughput),
    Metric("p50", "µs", "corrected p50 latency", False, 0.10, _latency("p50"), per_kind=True),
    Metric("p99", "µs", "corrected p99 latency", False, 0.10, _latency("p99"), per_kind=True),
    # Not charted: judging it takes 20,000 samples a trial (MIN_TAIL_SAMPLES beyond it), more
    # than a history's trials take.
    Metric("p999", "µs", "corrected p99.9 latency", False, 0.10, _latency("p999"),
           per_kind=True, charted=False),
    Metric("cpu_per_request", "µs / request", "server CPU", False, 0.05, _cpu),
    # In process (loadgen inproc, or the inproc and callgrind servers of a bench): per request
    # kind as well as over the mix, which is their weighted mean. Instruction counts repeat
    # within 0.01% (REPEATS_WITHIN), so 1% is a real change.
    Metric("instructions", "per request", "instructions in process", False, 0.01,
           _instructions, per_kind=True, each_kind=True, deterministic=True),
    Metric("inproc_us", "µs / request", "time in process", False, 0.05, _inproc_us,
           per_kind=True, each_kind=True),
)


def metric(name: str, kind: str | None = None) -> Metric:
    """The metric NAME with its default threshold, of one request kind (latencies and the
    in-process figures) or of the whole run."""
    found = next((m for m in METRICS if m.name == name), None)
    if found is None:
        raise LoadgenError(f"no metric {name!r}; the metrics are "
                           f"{', '.join(m.name for m in METRICS)}")
    if kind is not None and not found.per_kind:
        raise LoadgenError(f"{name} is measured for the whole run, not per request kind")
    return replace(found, kind=kind)


def with_deltas(deltas: dict[str, float]) -> tuple[Metric, ...]:
    """The metrics with some thresholds changed, e.g. {"p99": 0.2}."""
    for name, value in deltas.items():
        metric(name)  # an unknown name fails here
        if not 0 < value < 1:  # NaN fails too
            raise LoadgenError(f"--delta {name}={value:g}: a threshold is a fraction between "
                               "0 and 1, e.g. 0.05")
    return tuple(replace(m, delta=deltas.get(m.name, m.delta)) for m in METRICS)
