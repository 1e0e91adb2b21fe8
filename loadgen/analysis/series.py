"""The series of each metric over a history's points, with its change points: a level (centre
and interval) per point, and the steps between them that the change-point test keeps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from loadgen.analysis.changepoints import MIN_MAGNITUDE, change_points
from loadgen.analysis.compare import too_few_samples
from loadgen.analysis.intervals import bootstrap_interval
from loadgen.results.figures import Result
from loadgen.results.history import Point
from loadgen.results.metrics import METRICS, Metric
from loadgen.results.model import Trial


@dataclass(frozen=True)
class Level:
    """One point's figure of one metric: the geometric mean of its trials and a 95%
    interval over them."""

    point: Point
    values: tuple[float, ...]
    center: float
    low: float
    high: float


@dataclass(frozen=True)
class Change:
    before: Point
    after: Point
    magnitude: float  # after / before - 1 of the segment levels
    p_value: float


@dataclass(frozen=True)
class Series:
    scenario: str
    server: str
    key: str  # the series key its trials share
    metric: Metric
    levels: tuple[Level, ...]
    changes: tuple[Change, ...]
    judged: bool  # whether each trial had samples enough to look for change points

    @property
    def kind(self) -> str:
        return self.metric.kind or "all requests"


def _metrics(results: list[Result]) -> list[Metric]:
    """The charted metrics of the whole run, then of each request kind where there are
    several: those the results have."""
    charted = [m for m in METRICS if m.charted]
    kinds = dict.fromkeys(kind for r in results for kind in r.kinds)
    per_kind = [replace(m, kind=kind) for kind in kinds for m in charted
                if m.per_kind] if len(kinds) > 1 else []
    return [m for m in charted + per_kind if any(m.value(r) for r in results)]


def series(done: Iterable[Trial], points: Sequence[Point],
           min_magnitude: float = MIN_MAGNITUDE) -> list[Series]:
    """Every metric's series over `points` (in their order), per scenario and server, with its
    change points: steps of at least `min_magnitude`, or the metric's δ where that is smaller
    (1% for instruction counts, which repeat within 0.01%)."""
    order = {p.key: i for i, p in enumerate(points)}
    groups: dict[str, list[tuple[Trial, Result]]] = defaultdict(list)
    for trial in done:
        if (result := trial.usable_result) is not None and trial.cell.target in order:
            groups[trial.cell.series_key].append((trial, result))
    found = []
    for key, group in sorted(groups.items()):
        by_point: dict[str, list[Result]] = defaultdict(list)
        for trial, result in group:
            by_point[trial.cell.target].append(result)
        cell = group[0][0].cell
        for chosen in _metrics([result for _, result in group]):
            levels = []
            for point in points:
                values = [v for r in by_point.get(point.key, []) if (v := chosen.value(r))]
                if values:
                    center, low, high = bootstrap_interval(values)
                    levels.append(Level(point, tuple(values), center, low, high))
            # A percentile with too few samples beyond it moves by tens of percent between
            # identical trials, which the t-test over three trials can take for a step.
            judged = too_few_samples(chosen, (r for rs in by_point.values() for r in rs)) is None
            changes = tuple(
                Change(levels[c.index - 1].point, levels[c.index].point, c.magnitude, c.p_value)
                for c in (change_points([lv.values for lv in levels],
                                        min(min_magnitude, chosen.delta))
                          if judged else ()))
            found.append(Series(cell.scenario, cell.server, key, chosen, tuple(levels),
                                changes, judged))
    return found
