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

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loadgen.analysis.compare import (
    INCONCLUSIVE,
    MAX_LOOKS,
    Comparison,
    compare,
    extra_rounds,
    look_level,
)
from loadgen.analysis.series import Change, Series
from loadgen.campaigns.bench import TrialSink, cell_record, run_bench
from loadgen.campaigns.benchfile import Bench, Cell, ScenarioEntry, ServerEntry, TargetSpec
from loadgen.campaigns.points import subject_name
from loadgen.errors import LoadgenError
from loadgen.measure.executors import deterministic
from loadgen.measure.runner import Placement
from loadgen.results.history import (
    Confirmed,
    Noise,
    Point,
    confirmed,
    record_confirmed,
    record_points,
    trials,
)
from loadgen.results.metrics import Metric
from loadgen.results.model import Trial
from loadgen.results.store import RESULTS_DIR, RunStore, machine, machine_id
from loadgen.servers.launchers import TARGETS_DIR


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
        if self.rounds < (1 if deterministic(self.server.name) else 2):
            raise LoadgenError("rounds must be at least 2: a point's interval needs repeats "
                               "(1 on a server whose counts repeat)")
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
        return cell_record(bench, Cell(bench.targets[0], self.server, scenario)).series_key





def folder(subject: str, root: Path = RESULTS_DIR) -> Path:
    return root / machine_id(machine()) / "history" / subject_name(subject)


# ---------------------------------------------------------------- measuring


def missing(plan: HistoryPlan, done: Iterable[Trial]) -> dict[str, list[Point]]:
    """Per scenario label, the plan's points that lack `rounds` usable trials of its series."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for trial in done:
        if trial.usable:
            counts[(trial.cell.series_key, trial.cell.target)] += 1
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


# ---------------------------------------------------------------- confirming change points


@dataclass(frozen=True)
class Place:
    """Where a scenario's series changed: between two neighbouring points."""

    scenario: str
    before: Point
    after: Point


def change_places(found: Iterable[Series]) -> dict[Place, list[tuple[Series, Change]]]:
    """The change points of `found` by place, in the order found: one step between two points
    shows in the series of several metrics."""
    places: dict[Place, list[tuple[Series, Change]]] = defaultdict(list)
    for one in found:
        for change in one.changes:
            places[Place(one.scenario, change.before, change.after)].append((one, change))
    return dict(places)


@dataclass(frozen=True)
class Confirmation:
    scenario: str
    before: str  # point keys
    after: str
    comparison: Comparison
    run: str

    def record(self) -> Confirmed:
        """As confirmed.json keeps it."""
        c = self.comparison
        return Confirmed(scenario=self.scenario, before=self.before, after=self.after,
                         metric=c.metric.label, ratio=c.ratio, low=c.low, high=c.high,
                         rounds=len(c.ratios), verdict=c.verdict, samples=c.fewest,
                         noise=Noise(level=c.level, spread=c.spread, half_width=c.half_width),
                         run=self.run)


def confirm(plan: HistoryPlan, found: list[Series], home: Path, placement: Placement,
            on_trial: TrialSink | None = None,
            on_verdict: Callable[[Confirmation], None] | None = None) -> list[Confirmation]:
    """An interleaved A/B of the two sides of each change point (one run per scenario and pair
    of points, judging every metric that changed there and was not judged before); the
    verdicts are kept."""
    scenarios = {s.label: s for s in plan.scenarios}
    kept = confirmed(home)
    done = []
    for place, changed in change_places(found).items():
        label, before, after = place.scenario, place.before.key, place.after.key
        metrics = tuple(s.metric for s, _ in changed
                        if (label, s.metric.label, before, after) not in kept)
        if label not in scenarios or not metrics:
            continue  # a series of another plan, or judged before
        comparisons, store = ab(plan, place.before, place.after, scenarios[label], metrics,
                                home, placement, on_trial, max_rounds=plan.rounds * 4)
        for comparison in comparisons:
            outcome = Confirmation(label, before, after, comparison, store.path.name)
            done.append(outcome)
            kept[(label, comparison.metric.label, before, after)] = outcome.record()
            if on_verdict is not None:
                on_verdict(outcome)
        # After each A/B, so an interrupted confirmation keeps the verdicts it reached.
        record_confirmed(home, kept.values())
    return done
