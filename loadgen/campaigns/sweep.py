"""The sweep planner of `history` and `bisect`: their shared options (what serves the subject,
and the load) read into a history plan, each --param given as a list swept: one scenario entry
per combination of the values."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from loadgen.analysis.compare import unrepeated
from loadgen.campaigns.benchfile import ScenarioEntry, ServerEntry, labelled
from loadgen.campaigns.history import HistoryPlan
from loadgen.campaigns.options import SubjectOptions
from loadgen.campaigns.points import subject_name
from loadgen.errors import LoadgenError
from loadgen.measure.executors import deterministic
from loadgen.results.history import Point
from loadgen.results.metrics import REPEATS_WITHIN
from loadgen.results.model import Trial
from loadgen.servers.launchers import TARGETS_DIR, target_app
from loadgen.servers.serving import checked_workers
from loadgen.workloads.assignments import parse_assignments, value_list
from loadgen.workloads.scenario import load_scenario


def plan_sweep(options: SubjectOptions, subject: str, found: Sequence[Point]) -> HistoryPlan:
    """The plan for `found`, the subject's points; an unknown target fails now, before any
    environment is built."""
    swept = parse_assignments(options.params, "--param", "NAME=VALUE[,VALUE...]", value_list)
    entries = []
    for name in options.scenario_names:
        declared = load_scenario(name).params
        unknown = sorted(set(swept) - set(declared))
        # With several scenarios, a parameter may be another scenario's.
        if unknown and len(options.scenario_names) == 1:
            raise LoadgenError(f"scenario {name} has no parameter {unknown[0]!r}")
        mine = [[(k, v) for v in values] for k, values in swept.items() if k in declared]
        entries += [ScenarioEntry(name, tuple(combo)) for combo in itertools.product(*mine)]
    # Resolved: the in-process driver runs in the app's folder.
    app = options.target or subject_name(subject)
    app_dir = (options.app_dir or TARGETS_DIR).resolve()
    target_app(app, app_dir)
    load: dict[str, Any] = {"connections": options.connections, "duration": options.duration,
                            "warmup": options.warmup}
    if options.rate:
        load["rate"] = options.rate
    server = ServerEntry(options.server, checked_workers(options.workers))
    return HistoryPlan(subject, tuple(found), server, labelled(entries, always=True), load, app,
                       app_dir, options.packages, planned_rounds(options))


def planned_rounds(options: SubjectOptions) -> int:
    """The rounds asked for, or as many as the server's figures need: one where they repeat
    (instruction counts; two to verify that they do), three where they are noisy."""
    if options.verify and not deterministic(options.server):
        raise LoadgenError(f"--verify checks that counts repeat: it goes with --server "
                           f"callgrind, not {options.server}")
    if options.rounds is not None:
        if options.verify and options.rounds < 2:
            raise LoadgenError("--verify measures each point twice: --rounds 2 or more")
        return options.rounds
    return 2 if options.verify else 1 if deterministic(options.server) else 3


def verified(options: SubjectOptions, trials: Iterable[Trial]) -> None:
    """With --verify: refuse trials whose counts of one point did not repeat."""
    problems = unrepeated(trials) if options.verify else []
    if problems:
        raise LoadgenError(f"--verify: counts of one build did not repeat within "
                           f"{REPEATS_WITHIN:.2%}: {'; '.join(problems[:3])}"
                           + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))


def default_metrics(server: str) -> tuple[str, ...]:
    """The metrics judged when none is named, the first alone where one is judged (bisect):
    what the server's trials measure best. Instruction counts (per request kind) in
    process; CPU per request and p50 over the wire."""
    return ("instructions",) if deterministic(server) else ("cpu_per_request", "p50")
