"""`loadgen bench` as asked: the bench file's matrix run into a new run of the results store,
with rounds added while the budget lasts, each trial and each added round said in a line; then
the verdicts. The report is the caller's to build, from what is stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loadgen.analysis.compare import compare, level_text, look_level, markdown
from loadgen.campaigns.bench import Budgeted, rounds_runner, run_budgeted, trials_of
from loadgen.campaigns.benchfile import Cell, load_bench, with_budget
from loadgen.campaigns.options import BenchOptions
from loadgen.measure.runner import Placement
from loadgen.measure.single import pyspy_executable
from loadgen.measure.trial import TURN_S
from loadgen.present.cells import cells_markdown
from loadgen.present.summary import trial_figures
from loadgen.results.model import Trial
from loadgen.results.output import check_folder
from loadgen.results.store import RunStore
from loadgen.workloads.profile import parse_duration


@dataclass(frozen=True)
class BenchSession:
    store: RunStore  # the run's folder
    interrupted: bool  # by Ctrl-C, between trials or in one: the finished trials are kept
    text: str = ""  # the verdict table and how the rounds went, when it ran to its end


def run_bench_session(options: BenchOptions, say: Callable[[str], None],
                      warn: Callable[[str], None]) -> BenchSession:
    """Run the bench; `say` hears its plan, each trial and each added round, `warn` each
    reason a trial has no profile (once)."""
    bench = load_bench(options.file)
    if options.budget is not None:
        bench = with_budget(bench, parse_duration(options.budget))
    check_folder(options.results_dir, "--results")
    placement = Placement.apart()
    store = RunStore.new(options.results_dir)
    profiled = options.profiled and pyspy_executable(warn) is not None
    told: set[str] = set()  # each reason a trial has no profile, said once
    per_round = trials_of(bench, bench.cells(), profiled)
    pairs = sum(beside is not None for _, beside in per_round)
    more = (f", then rounds for undecided cells within {bench.budget_s / 60:.1f} min in all"
            f" (each look at {level_text(look_level(bench.looks))})" if bench.budget_s else "")
    paired = (f"; {pairs} of the {len(per_round)} trials of a round pair a cell with its "
              f"baseline, loaded in turns of {TURN_S:g} s" if pairs else "")
    say(f"bench {options.file}: {len(bench.cells())} cells x {bench.rounds} rounds{more}"
        f"{paired}; {placement.cores_text}; trials go to {store.path}")
    for cell, reason in bench.skipped():
        say(f"skipped {cell.name}: {reason}")

    def progress(trial: Trial, left_s: float) -> None:
        result = trial.result
        figures = (trial_figures(result) if result is not None
                   else f"FAILED: {(trial.error or '')[:120]}")
        number = trial.round + 1
        where = (f"round {number}/{bench.rounds}, {trial.position + 1}/{len(per_round)}"
                 if number <= bench.rounds else f"added round {number}")
        name = trial.cell.name
        beside = f" beside {trial.pair}" if trial.pair not in (None, name) else ""
        say(f"[{where}] {name}{beside}: {figures} (about {left_s / 60:.1f} min left)")
        problem = None if result is None or result.py_spy is None else result.py_spy.problem
        if problem and problem not in told:
            told.add(problem)
            warn(f"no profile: {problem}")

    def added(index: int, chosen: Sequence[Cell]) -> None:
        say(f"adding round {index + 1} for {len(chosen)} cells still inconclusive, with their "
            f"baselines: {', '.join(c.name for c in chosen)}")

    outcome: Budgeted | None
    try:
        outcome = run_budgeted(bench, store, rounds_runner(store, placement, progress, profiled),
                               added)
    except KeyboardInterrupt:  # between trials
        outcome = None
    if outcome is None or outcome.stop == "interrupted":  # or in one: it ended early, kept
        return BenchSession(store, True)
    trials = store.trials()
    comparisons, left_out = compare(trials, bench.baseline)
    text = markdown(comparisons, left_out)
    if cells := cells_markdown(trials):
        text += f"\n\n{cells}\n"
    return BenchSession(store, False, f"{text}\n{outcome.text}")
