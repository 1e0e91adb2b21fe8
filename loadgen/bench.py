"""The bench runner: every cell of the matrix once per round, rounds interleaved and each
round in a shuffled order (drift then hits all cells alike), a fresh server per trial, and each
trial written to the store the moment it ends. A failing cell is written as failed and the
matrix goes on; Ctrl-C keeps every finished trial."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any

from loadgen import inproc
from loadgen.benchfile import Bench, Cell
from loadgen.envs import environment, frozen
from loadgen.errors import LoadgenError
from loadgen.pyspy import SamplingPlan
from loadgen.runner import Placement
from loadgen.scenario import load_scenario
from loadgen.servers import ServerSpec, target_app
from loadgen.store import RunStore, machine, toolkit_commit
from loadgen.trial import run_served
from loadgen.workload import ScenarioWorkload

TrialSink = Callable[[dict[str, Any], float], None]
# Servers that are not: the target's app called in process, timed or under callgrind.
IN_PROCESS = ("inproc", "callgrind")


def schedule(bench: Bench) -> list[list[Cell]]:
    """The cells of each round, each round in its own seeded random order."""
    rng = random.Random(bench.seed)
    rounds = []
    for _ in range(bench.rounds):
        order = bench.cells()
        rng.shuffle(order)
        rounds.append(order)
    return rounds


def run_trial(bench: Bench, cell: Cell, placement: Placement, store: RunStore,
              stem: str, profiled: bool = False) -> dict[str, Any]:
    """One cell once: the trial document's status, result or error, and its packages.
    `profiled`: py-spy samples the server, its files STEM.* in the run folder."""
    try:
        python = (environment(cell.target.packages, cell.server.name) if cell.target.packages
                  else sys.executable)
    except LoadgenError as exc:
        return {"status": "failed", "error": str(exc), "packages": {}}
    installed = frozen(python)
    try:
        scenario = load_scenario(cell.scenario.name)
        workload = ScenarioWorkload(scenario, scenario.resolve(dict(cell.scenario.params)),
                                    seed=bench.seed)
        assert placement.server is not None
        if cell.server.name in IN_PROCESS:
            plan = inproc.plan_for(cell.target.app, cell.target.app_dir, python, workload,
                                   instructions=cell.server.name == "callgrind",
                                   cores=placement.server)
            return {"status": "ok", "result": inproc.run_inproc(plan).to_json(),
                    "packages": installed}
        spec = ServerSpec(cell.server.name, target_app(cell.target.app, cell.target.app_dir),
                          app_dir=cell.target.app_dir, python=python,
                          workers=cell.server.workers, cpus=placement.server,
                          log_path=store.path / f"{stem}.server.log")
        result = run_served(spec, cell.target.name, workload, bench.profile(cell.scenario),
                            placement, sampling=SamplingPlan(store.path, stem) if profiled
                            else None)
    except LoadgenError as exc:
        return {"status": "failed", "error": str(exc), "packages": installed}
    status = "interrupted" if result.interrupted else "ok"
    return {"status": status, "result": result.to_json(), "packages": installed}


def series_json(bench: Bench, cell: Cell) -> dict[str, Any]:
    """What a cell's figures depend on besides its target: trials that agree on this are
    points of one series."""
    return {"server": cell.server.name, "workers": cell.server.workers,
            "scenario": cell.scenario.label, "params": dict(cell.scenario.params),
            "load": bench.profile(cell.scenario).to_json()}


def cell_json(bench: Bench, cell: Cell) -> dict[str, Any]:
    return {"name": cell.name, "target": cell.target.name, "app": cell.target.app,
            **series_json(bench, cell), "baseline": bench.is_baseline(cell)}


def run_bench(bench: Bench, store: RunStore, placement: Placement,
              on_trial: TrialSink | None = None, first_round: int = 0,
              profiled: bool = False) -> int:
    """Run the matrix into `store`; returns the number of trials written. Rounds are numbered
    from `first_round`, so more rounds can be added to a run that has some. `profiled`: py-spy
    samples every trial's server (see run_trial)."""
    common = {"run_id": store.path.name, "machine": machine(), "toolkit": toolkit_commit(),
              "baseline": list(bench.baseline)}
    rounds = schedule(bench)
    total, written, started = sum(map(len, rounds)), 0, time.monotonic()
    for round_index, order in enumerate(rounds, first_round):
        for position, cell in enumerate(order):
            stem = f"r{round_index:02d}-p{position:02d}-{cell.name.replace('/', '_')}"
            outcome = run_trial(bench, cell, placement, store, stem, profiled)
            document = {**common, "round": round_index, "position": position,
                        "cell": cell_json(bench, cell), **outcome}
            store.write_trial(document)
            written += 1
            if on_trial is not None:
                elapsed = time.monotonic() - started
                on_trial(document, elapsed / written * (total - written))
            if outcome["status"] == "interrupted":
                return written
    return written
