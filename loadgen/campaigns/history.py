"""History: the same scenarios measured at every point of an axis (the commits of a repository or
the released versions of a package), the series of each metric, and its change points.

A history lives in results/MACHINE/history/SUBJECT/: `points.json` (every point ever measured,
in axis order), one run folder per measuring session (bench trials, the target named by the
point's key), and `confirmed.json` (the A/B verdicts of change points). Each point is measured
in its own cached environment (the subject at that point plus the rest of the target's
packages). A point already measured `rounds` times with the same server, scenario, parameters
and load is not measured again, so a longer range measures only what is new.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from packaging.version import Version

from loadgen.bench import TrialSink, run_bench, series_json
from loadgen.benchfile import Bench, Cell, ScenarioEntry, ServerEntry, TargetSpec
from loadgen.changepoints import MIN_MAGNITUDE, change_points
from loadgen.compare import (
    IN_PROCESS,
    INCONCLUSIVE,
    LATENCIES,
    MAX_LOOKS,
    Comparison,
    Metric,
    bootstrap_interval,
    compare,
    extra_rounds,
    look_level,
    metric,
    noise_json,
    too_few_samples,
    usable,
)
from loadgen.errors import LoadgenError
from loadgen.output import write_atomically
from loadgen.points import Point, subject_name
from loadgen.runner import Placement
from loadgen.servers import TARGETS_DIR
from loadgen.store import RESULTS_DIR, RunStore, machine, machine_id, read_trial


@dataclass(frozen=True)
class HistoryPlan:
    """What to measure at each point, and how often."""

    subject: str
    points: tuple[Point, ...]
    server: ServerEntry
    scenarios: tuple[ScenarioEntry, ...]
    load: dict[str, Any]
    app: str  # the target: NAME_app.py in app_dir, importing the subject
    app_dir: Path = TARGETS_DIR
    packages: tuple[str, ...] = ()  # the rest of the target's environment
    rounds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 2:
            raise LoadgenError("rounds must be at least 2: a point's interval needs repeats")
        if not self.points:
            raise LoadgenError("the series names no point")

    def bench(self, points: Sequence[Point], scenarios: Sequence[ScenarioEntry] | None = None,
              rounds: int | None = None) -> Bench:
        """The points as the targets of a bench matrix, the first one its baseline."""
        targets = tuple(TargetSpec(p.key, self.app, self.app_dir, (p.requirement, *self.packages))
                        for p in points)
        return Bench(targets, (self.server,), tuple(scenarios or self.scenarios), self.load,
                     rounds or self.rounds, (points[0].key, self.server.name), self.seed)

    def series_key(self, scenario: ScenarioEntry) -> str:
        bench = self.bench(self.points[:1], [scenario])
        return _key(series_json(bench, Cell(bench.targets[0], self.server, scenario)))


def _key(series: dict[str, Any]) -> str:
    return json.dumps(series, sort_keys=True)


def trial_series_key(trial: dict[str, Any]) -> str:
    cell = trial["cell"]
    return _key({name: cell.get(name) for name in
                 ("server", "workers", "scenario", "params", "load")})


def folder(subject: str, root: Path = RESULTS_DIR) -> Path:
    return root / machine_id(machine()) / "history" / subject_name(subject)


# ---------------------------------------------------------------- the points on record


def _order(point: Point) -> tuple[Any, ...]:
    if point.kind == "version":
        return (Version(point.key),)
    # First-parent order follows the commit date: a range's commits are measured in the order
    # they were committed.
    return (datetime.fromisoformat(point.date),)


def known_points(home: Path) -> list[Point]:
    """The points of this history, in axis order."""
    path = home / "points.json"
    if not path.exists():
        return []
    return [Point.from_json(p) for p in json.loads(path.read_text())]


def record_points(home: Path, points: Iterable[Point]) -> None:
    merged = {p.key: p for p in known_points(home)} | {p.key: p for p in points}
    home.mkdir(parents=True, exist_ok=True)
    write_atomically(home / "points.json", json.dumps(
        [p.to_json() for p in sorted(merged.values(), key=_order)], indent=1) + "\n")


def trials(home: Path) -> list[dict[str, Any]]:
    """Every trial of this history, from all its runs."""
    return [read_trial(path) for path in sorted(home.glob("*/trial-*.json"))]


# ---------------------------------------------------------------- measuring


def missing(plan: HistoryPlan, done: Iterable[dict[str, Any]]) -> dict[str, list[Point]]:
    """Per scenario label, the plan's points that lack `rounds` usable trials of its series."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for trial in filter(usable, done):
        counts[(trial_series_key(trial), trial["cell"]["target"])] += 1
    return {s.label: [p for p in plan.points
                      if counts[(plan.series_key(s), p.key)] < plan.rounds]
            for s in plan.scenarios}


def measure(plan: HistoryPlan, home: Path, placement: Placement,
            on_trial: TrialSink | None = None) -> list[RunStore]:
    """Measure every point the history lacks, scenario by scenario (each an interleaved matrix
    of the missing points); returns the runs written."""
    record_points(home, plan.points)
    runs = []
    for scenario in plan.scenarios:
        points = missing(plan, trials(home))[scenario.label]
        if not points:
            continue
        store = RunStore.create(home)
        runs.append(store)
        run_bench(plan.bench(points, [scenario]), store, placement, on_trial)
    return runs


def ab(plan: HistoryPlan, before: Point, after: Point, scenario: ScenarioEntry,
       metrics: tuple[Metric, ...], home: Path, placement: Placement,
       on_trial: TrialSink | None = None, max_rounds: int | None = None,
       decided: Callable[[Comparison], bool] = lambda c: c.verdict != INCONCLUSIVE
       ) -> tuple[list[Comparison], RunStore]:
    """An interleaved A/B of two points, `after` against `before`, and the run it wrote.
    While a comparison is not `decided`, more rounds in one step, as many as its spread says
    it needs (compare.extra_rounds), up to `max_rounds` in all and MAX_LOOKS looks; an A/B
    that may look more than once judges each look at compare.look_level."""
    record_points(home, (before, after))
    cap = max(max_rounds or 0, plan.rounds)
    bench = replace(plan.bench([before, after], [scenario]),
                    looks=MAX_LOOKS if cap > plan.rounds else 1, paired=True)
    store = RunStore.create(home)
    run_bench(bench, store, placement, on_trial)
    rounds, looks = bench.rounds, 1
    while True:
        comparisons, _ = compare(store.trials(), bench.baseline, metrics,
                                 look_level(bench.looks))
        more = min(extra_rounds(c for c in comparisons if not decided(c)), cap - rounds)
        if more <= 0 or looks == bench.looks:
            return comparisons, store
        run_bench(replace(bench, rounds=more, seed=bench.seed + rounds), store, placement,
                  on_trial, first_round=rounds)
        rounds, looks = rounds + more, looks + 1


# ---------------------------------------------------------------- series and change points


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


def _metrics(results: list[dict[str, Any]]) -> list[Metric]:
    """The whole run's metrics (throughput only in closed loop, where the server sets it), then
    each request kind's latencies or in-process figures: those the results have."""
    closed = not any(r["profile"]["stages"] for r in results)
    whole = [metric(name) for name in ("throughput", "p50", "p99", "cpu_per_request",
                                        *IN_PROCESS) if name != "throughput" or closed]
    kinds = dict.fromkeys(kind for r in results for kind in r["kinds"])
    per_kind = [metric(name, kind) for kind in kinds
                for name in (*LATENCIES[:2], *IN_PROCESS)] if len(kinds) > 1 else []
    return [m for m in whole + per_kind if any(m.value(r) for r in results)]


def series(done: Iterable[dict[str, Any]], points: Sequence[Point],
           min_magnitude: float = MIN_MAGNITUDE) -> list[Series]:
    """Every metric's series over `points` (in their order), per scenario and server, with its
    change points: steps of at least `min_magnitude`, or the metric's δ where that is smaller
    (1% for instruction counts, which repeat exactly)."""
    order = {p.key: i for i, p in enumerate(points)}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trial in filter(usable, done):
        if trial["cell"]["target"] in order:
            groups[trial_series_key(trial)].append(trial)
    found = []
    for key, group in sorted(groups.items()):
        by_point: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for trial in group:
            by_point[trial["cell"]["target"]].append(trial["result"])
        cell = group[0]["cell"]
        for chosen in _metrics([t["result"] for t in group]):
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
            found.append(Series(cell["scenario"], cell["server"], key, chosen, tuple(levels),
                                changes, judged))
    return found


# ---------------------------------------------------------------- confirming change points


@dataclass(frozen=True)
class Confirmation:
    scenario: str
    before: str  # point keys
    after: str
    comparison: Comparison
    run: str

    def to_json(self) -> dict[str, Any]:
        c = self.comparison
        return {"scenario": self.scenario, "before": self.before, "after": self.after,
                "metric": c.metric.label, "ratio": c.ratio, "low": c.low, "high": c.high,
                "rounds": len(c.ratios), "verdict": c.verdict, "samples": c.fewest,
                "noise": noise_json(c), "run": self.run}


def confirmed(home: Path) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """The kept A/B verdicts, by (scenario, metric label, before, after)."""
    path = home / "confirmed.json"
    entries = json.loads(path.read_text()) if path.exists() else []
    return {(e["scenario"], e["metric"], e["before"], e["after"]): e for e in entries}


def confirm(plan: HistoryPlan, found: list[Series], home: Path, placement: Placement,
            on_trial: TrialSink | None = None,
            on_verdict: Callable[[Confirmation], None] | None = None) -> list[Confirmation]:
    """An interleaved A/B of the two sides of each change point (one run per scenario and pair
    of points, judging every metric that changed there and was not judged before); the
    verdicts are kept."""
    pairs: dict[tuple[str, str, str], list[Series]] = defaultdict(list)
    for one in found:
        for change in one.changes:
            pairs[(one.scenario, change.before.key, change.after.key)].append(one)
    points = {p.key: p for p in known_points(home)}
    scenarios = {s.label: s for s in plan.scenarios}
    kept = confirmed(home)
    done = []
    for (label, before, after), changed in pairs.items():
        metrics = tuple(s.metric for s in changed
                        if (label, s.metric.label, before, after) not in kept)
        if label not in scenarios or not metrics:
            continue  # a series of another plan, or judged before
        comparisons, store = ab(plan, points[before], points[after], scenarios[label],
                                metrics, home, placement, on_trial, max_rounds=plan.rounds * 4)
        for comparison in comparisons:
            outcome = Confirmation(label, before, after, comparison, store.path.name)
            done.append(outcome)
            kept[(label, comparison.metric.label, before, after)] = outcome.to_json()
            if on_verdict is not None:
                on_verdict(outcome)
        # After each A/B, so an interrupted confirmation keeps the verdicts it reached.
        write_atomically(home / "confirmed.json",
                         json.dumps(list(kept.values()), indent=1) + "\n")
    return done
