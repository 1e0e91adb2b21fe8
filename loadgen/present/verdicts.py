"""A stored run's verdicts (`loadgen compare`): its cells against its baseline, or each against
the same cell of another run; and which baseline a run's cells are compared with, for the
verdict tables and the report alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from loadgen.analysis.compare import Comparison, compare, compare_runs
from loadgen.errors import LoadgenError
from loadgen.results.metrics import with_deltas
from loadgen.results.model import Trial
from loadgen.results.store import RunStore
from loadgen.workloads.assignments import parse_assignments


def run_baseline(trials: list[Trial], asked: str | None = None,
                 where: Path | str = "the run") -> tuple[str, str]:
    """The (target, server) the run's cells are compared with: the one it was run with, which
    every trial names, or `asked` (TARGET/SERVER, from --baseline), one of the run's own."""
    if asked is None:
        return trials[0].baseline
    target, sep, server = asked.partition("/")
    if not sep:
        raise LoadgenError("--baseline takes TARGET/SERVER, e.g. starlette/uvicorn")
    present = sorted({f"{t.cell.target}/{t.cell.server}" for t in trials})
    if asked not in present:
        raise LoadgenError(f"--baseline {asked}: no such target/server in {where}; "
                           f"it has {', '.join(present)}")
    return target, server


@dataclass(frozen=True, kw_only=True)
class CompareOptions:
    """The compare command's options: each field's default is its option's, and the text in
    its Annotated type is its option's help."""

    run_dir: Path
    after: Path | None = None  # a second run, each of whose cells is compared with RUN_DIR's
    baseline: Annotated[str | None, "TARGET/SERVER to compare against (default: the "
                                    "run's)."] = None
    deltas: Annotated[tuple[str, ...], "A metric's threshold, e.g. p99=0.2 (defaults: 0.05 for "
                                       "throughput and cpu_per_request, 0.10 for "
                                       "latencies)."] = ()


def compare_stored(options: CompareOptions, warn: Callable[[str], None]
                   ) -> tuple[list[Comparison], dict[str, int]]:
    """The comparisons, and the trials each cell left out; `warn` hears of each trial file
    that cannot be read, which is compared without."""
    metrics = with_deltas(parse_assignments(options.deltas, "--delta", "METRIC=FRACTION", float))
    trials = _readable(options.run_dir, warn)
    after = None if options.after is None else _readable(options.after, warn)
    if not trials or after == []:
        return [], {}  # nothing to compare: its own exit code (3), not bad input
    if after is not None:
        return compare_runs(trials, after, metrics)
    return compare(trials, run_baseline(trials, options.baseline, options.run_dir), metrics)


def _readable(run_dir: Path, warn: Callable[[str], None]) -> list[Trial]:
    trials, problems = RunStore(run_dir).readable_trials()
    for problem in problems:
        warn(f"{problem}; compared without it")
    if not trials:
        warn(f"no readable trials in {run_dir}: nothing to compare")
    return trials
