"""`loadgen history` as asked: the points the history lacks measured, its change points among
the asked-for points said, and (with --confirm) each checked by an A/B; every step said in a
line as it happens. The report is the caller's to build, from what is stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen.analysis.compare import noise_text, verdict_text
from loadgen.analysis.series import series
from loadgen.campaigns import history
from loadgen.campaigns.options import HistoryOptions
from loadgen.campaigns.points import points
from loadgen.campaigns.sweep import plan_sweep, verified
from loadgen.measure.runner import Placement
from loadgen.present.summary import trial_figures
from loadgen.results.history import known_points, trials
from loadgen.results.model import Trial
from loadgen.results.output import check_folder


def trial_line(trial: Trial) -> str:
    """A finished trial of a history's point, for a progress line."""
    figures = (trial_figures(trial.result) if trial.result is not None
               else f"FAILED: {(trial.error or '')[:200]}")
    cell = trial.cell
    return f"  round {trial.round + 1} {cell.target[:12]} {cell.scenario}: {figures}"


@dataclass(frozen=True)
class HistorySession:
    home: Path  # the history's folder
    interrupted: bool  # by Ctrl-C: the finished trials are kept


def run_history(options: HistoryOptions, say: Callable[[str], None]) -> HistorySession:
    """Measure what the history lacks, then say its change points between the asked-for
    points (each place once, with every metric that changed there) and confirm them."""
    found = points(options.subject, options.series_text, options.every)
    plan = plan_sweep(options, options.subject, found)
    check_folder(options.results_dir, "--results")
    home = history.folder(options.subject, options.results_dir)
    placement = Placement.apart()
    say(f"history of {options.subject}: {len(found)} points x {len(plan.scenarios)} "
        f"scenario(s) on {plan.server.name}, {plan.rounds} rounds; {placement.cores_text}; "
        f"results in {home}")
    todo = history.missing(plan, trials(home))
    say(f"to measure: {sum(map(len, todo.values()))} of {len(found) * len(plan.scenarios)} "
        f"(point, scenario) pairs")

    def on_trial(trial: Trial, left_s: float) -> None:
        say(trial_line(trial))

    try:
        history.measure(plan, home, placement, on_trial)
        verified(options, trials(home))
        known = known_points(home)
        by_key = {p.key: p for p in known}
        found_series = series(trials(home), known, options.min_change)
        shown = {p.key for p in found}
        places = {place: changed
                  for place, changed in history.change_places(found_series).items()
                  if place.before.key in shown and place.after.key in shown}
        for place, changed in places.items():
            after = place.after
            say(f"change point: {place.scenario} between {place.before.label} and {after.label}"
                f"{' ' + after.title if after.title else ''}: "
                + ", ".join(f"{one.metric.label} {change.magnitude:+.0%}"
                            for one, change in changed))
        if not places:
            say("no change point")
        if options.confirm and places:
            history.confirm(plan, found_series, home, placement, on_trial, lambda c: say(
                f"A/B {c.scenario} {c.comparison.metric.label} {by_key[c.before].label} -> "
                f"{by_key[c.after].label}: {verdict_text(c.comparison)}, noise "
                f"{noise_text(c.comparison)}"))
    except KeyboardInterrupt:
        return HistorySession(home, True)
    return HistorySession(home, False)
