"""The bench runner: every cell of the matrix once per round, rounds interleaved and each
round in a shuffled order (drift then hits all cells alike), a fresh server per trial, and each
trial written to the store the moment it ends. A failing cell is written as failed and the
matrix goes on; Ctrl-C keeps every finished trial. With a time budget, the cells still
inconclusive after the planned rounds get more interleaved rounds while the budget lasts."""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from loadgen.analysis.compare import (
    INCONCLUSIVE,
    Comparison,
    compare,
    could_decide,
    extra_rounds,
    look_level,
)
from loadgen.campaigns.benchfile import Bench, Cell
from loadgen.errors import LoadgenError
from loadgen.measure.executors import EXECUTORS, TrialInput
from loadgen.measure.runner import Placement
from loadgen.measure.trial import run_paired
from loadgen.results import model
from loadgen.results.model import Trial
from loadgen.results.store import RunStore, machine, toolkit_commit
from loadgen.servers.envs import environment, frozen
from loadgen.servers.launchers import ServerSpec, target_app
from loadgen.servers.pyspy import SamplingPlan
from loadgen.workloads.scenario import load_scenario
from loadgen.workloads.workload import ScenarioWorkload

TrialSink = Callable[[Trial, float], None]  # a trial as written, and the time left in s


def schedule(bench: Bench, cells: Sequence[Cell] | None = None) -> list[list[Cell]]:
    """The cells of each round (default: the whole matrix), each round in its own seeded
    random order."""
    rng = random.Random(bench.seed)
    rounds = []
    for _ in range(bench.rounds):
        order = list(bench.cells() if cells is None else cells)
        rng.shuffle(order)
        rounds.append(order)
    return rounds


def hash_seed(bench: Bench, round_index: int) -> int:
    """The PYTHONHASHSEED of every server in a round. Each Python process otherwise draws its
    own, and with it its dicts' and sets' layout: between two starts of the same app that
    alone spread CPU per request by ±8% a round here (benchmarks/noise.py), ±4% with one seed
    for both sides. One seed per round pairs the cells of a round, and the rounds still sample
    several layouts rather than one that may be unusual."""
    return (bench.seed * 1009 + round_index) % 2**32


def _python(cell: Cell) -> tuple[str, dict[str, str]]:
    """The cell's Python (its own venv when it names packages) and what is installed there."""
    python = (environment(cell.target.packages, cell.server.name) if cell.target.packages
              else sys.executable)
    return python, frozen(python)


def _workload(bench: Bench, cell: Cell) -> ScenarioWorkload:
    scenario = load_scenario(cell.scenario.name)
    return ScenarioWorkload(scenario, scenario.resolve(dict(cell.scenario.params)),
                            seed=bench.seed)


def _spec(cell: Cell, python: str, placement: Placement, store: RunStore, stem: str,
          seed: int) -> ServerSpec:
    assert placement.server is not None  # a bench starts its servers: it knows their cores
    return ServerSpec(cell.server.name, target_app(cell.target.app, cell.target.app_dir),
                      app_dir=cell.target.app_dir, python=python,
                      workers=cell.server.workers, cpus=placement.server,
                      log_path=store.path / f"{stem}.server.log",
                      env=(("PYTHONHASHSEED", str(seed)),), protocol=cell.scenario.protocol)


def run_trial(bench: Bench, cell: Cell, placement: Placement, store: RunStore,
              stem: str, profiled: bool = False, seed: int = 0) -> dict[str, Any]:
    """One cell once: the trial document's status, result or error, and its packages.
    `profiled`: py-spy samples the server, its files STEM.* in the run folder. `seed`: the
    server's PYTHONHASHSEED."""
    try:
        python, installed = _python(cell)
    except LoadgenError as exc:
        return {"status": "failed", "error": str(exc), "packages": {}}
    try:
        status, result = EXECUTORS[cell.server.name].run(TrialInput(
            _spec(cell, python, placement, store, stem, seed), cell.target.app,
            cell.target.name, _workload(bench, cell), bench.profile(cell.scenario), placement,
            SamplingPlan(store.path, stem) if profiled else None))
    except LoadgenError as exc:
        return {"status": "failed", "error": str(exc), "packages": installed}
    return {"status": status, "result": result, "packages": installed}


def run_pair(bench: Bench, cells: tuple[Cell, Cell], placement: Placement, store: RunStore,
             stems: tuple[str, str], seed: int, first: int
             ) -> list[tuple[Cell, dict[str, Any]]]:
    """A cell and the baseline cell of its scenario in one paired trial (trial.run_paired),
    cell `first` of the two loaded first: each with its trial document's status, result and
    packages. A pair that fails gives the first cell's failure only: the baseline was not
    measured, and its own failure, if it is its, shows in every pair's."""
    try:
        envs = [_python(cell) for cell in cells]
    except LoadgenError as exc:
        return [(cells[0], {"status": "failed", "error": str(exc), "packages": {}})]
    try:
        specs = tuple(_spec(cell, python, placement, store, stem, seed)
                      for cell, (python, _), stem in zip(cells, envs, stems, strict=True))
        results = run_paired((specs[0], specs[1]), (cells[0].target.name, cells[1].target.name),
                             _workload(bench, cells[0]), bench.profile(cells[0].scenario),
                             placement, first)
    except LoadgenError as exc:
        return [(cells[0], {"status": "failed", "error": str(exc), "packages": envs[0][1]})]
    return [(cell, {"status": "interrupted" if result.interrupted else "ok",
                    "result": result.to_json(), "packages": installed})
            for cell, result, (_, installed) in zip(cells, results, envs, strict=True)]


def pairable(bench: Bench, cell: Cell) -> bool:
    """Whether the cell can be loaded in turns: over HTTP, open loop, with no flow."""
    return (EXECUTORS[cell.server.name].pairable and bench.profile(cell.scenario).open_loop
            and load_scenario(cell.scenario.name).flow is None)


def trials_of(bench: Bench, order: Sequence[Cell], profiled: bool = False
              ) -> list[tuple[Cell, Cell | None]]:
    """A round's trials, in its order: with bench.paired, each cell beside the baseline cell of
    its scenario where both can be paired, else alone. The baseline cell runs alone only where
    a cell of its scenario in the round does not pair (its verdict needs the baseline's own
    trial) or it has no other. py-spy's profiles are of one server at a time: no pairs."""
    base = {c.scenario.label: c for c in order if bench.is_baseline(c)}
    partner = {c.name: base.get(c.scenario.label) for c in order if not bench.is_baseline(c)}
    if bench.paired and not profiled:
        partner = {name: b for name, b in partner.items() if b is not None and pairable(bench, b)
                   and pairable(bench, next(c for c in order if c.name == name))}
    else:
        partner = {}
    trials: list[tuple[Cell, Cell | None]] = []
    for cell in order:
        if not bench.is_baseline(cell):
            trials.append((cell, partner.get(cell.name)))
        elif not all(partner.get(c.name) for c in order
                     if c.scenario == cell.scenario and not bench.is_baseline(c)) or \
                not any(c.scenario == cell.scenario and not bench.is_baseline(c) for c in order):
            trials.append((cell, None))
    return trials


def cell_record(bench: Bench, cell: Cell) -> model.Cell:
    """The cell as its trials record it."""
    return model.Cell(name=cell.name, target=cell.target.name, app=cell.target.app,
                      server=cell.server.name, workers=cell.server.workers,
                      scenario=cell.scenario.label, params=dict(cell.scenario.params),
                      load=bench.profile(cell.scenario), baseline=bench.is_baseline(cell),
                      method=EXECUTORS[cell.server.name].method,
                      protocol=None if cell.scenario.protocol == "http1"
                      else cell.scenario.protocol)


def run_bench(bench: Bench, store: RunStore, placement: Placement,
              on_trial: TrialSink | None = None, first_round: int = 0,
              profiled: bool = False, cells: Sequence[Cell] | None = None
              ) -> tuple[int, bool]:
    """Run the matrix (or only `cells`) into `store`: (the trial documents written, whether
    every planned trial ran: not when Ctrl-C cut one short). Rounds are numbered from
    `first_round`, so more rounds can be added to a run that has some. `profiled`: py-spy
    samples every trial's server (see run_trial)."""
    # `looks`: the verdicts' confidence depends on how often the run may be looked at.
    common = {"run_id": store.path.name, "machine": machine(), "toolkit": toolkit_commit(),
              "baseline": list(bench.baseline), "looks": bench.looks}
    rounds = [trials_of(bench, order, profiled) for order in schedule(bench, cells)]
    total = sum(1 + (beside is not None) for order in rounds for _, beside in order)
    written, started = 0, time.monotonic()
    if first_round == 0:  # what is not measured, and why, once
        for position, (cell, reason) in enumerate(bench.skipped()):
            store.write_trial({**common, "round": 0, "position": position, "hash_seed": None,
                               "status": "skipped",
                               "cell": cell_record(bench, cell).to_json(), "error": reason,
                               "packages": {}})
    for round_index, order in enumerate(rounds, first_round):
        seed = hash_seed(bench, round_index)
        for position, (cell, beside) in enumerate(order):
            stem = f"r{round_index:02d}-p{position:02d}-{cell.name.replace('/', '_')}"
            if beside is None:
                outcomes = [(cell, run_trial(bench, cell, placement, store, stem, profiled,
                                             seed))]
            else:
                # Both halves name the cell the pair was for; who goes first alternates.
                outcomes = [(one, {"pair": cell.name, **outcome}) for one, outcome in run_pair(
                    bench, (cell, beside), placement, store,
                    (stem, f"{stem}-beside-{beside.name.replace('/', '_')}"), seed,
                    round_index % 2)]
            for one, outcome in outcomes:
                document = {**common, "round": round_index, "position": position,
                            "hash_seed": seed, "cell": cell_record(bench, one).to_json(),
                            **outcome}
                trial = store.write_trial(document)
                written += 1
                if on_trial is not None:
                    elapsed = time.monotonic() - started
                    on_trial(trial, elapsed / written * max(0, total - written))
            if any(outcome["status"] == "interrupted" for _, outcome in outcomes):
                return written, False
    return written, True


# Runs bench.rounds rounds of the cells, numbered from the int: (trials written, all ran).
RoundRunner = Callable[[Bench, Sequence[Cell], int], tuple[int, bool]]


def rounds_runner(store: RunStore, placement: Placement, on_trial: TrialSink | None = None,
                  profiled: bool = False) -> RoundRunner:
    """Rounds run for real, by run_bench into `store`."""
    return lambda bench, cells, first: run_bench(bench, store, placement, on_trial, first,
                                                 profiled, cells)


@dataclass(frozen=True)
class Budgeted:
    """How a budgeted bench went."""

    rounds: dict[str, int]  # per cell, the rounds it ran
    looks: int  # how often its verdicts were looked at
    stop: str  # why no more rounds: "decided", "budget", "out of reach", "looks",
    # "interrupted", "no budget"

    @property
    def text(self) -> str:
        by_count: dict[int, list[str]] = {}
        for cell, count in sorted(self.rounds.items()):
            by_count.setdefault(count, []).append(cell)
        # The most common count by number of cells, the others by name: few cells get more.
        parts = [f"{n} for {len(cells)} cells" if len(cells) > 3 else f"{n} for "
                 f"{', '.join(cells)}" for n, cells in sorted(by_count.items())]
        why = {"decided": "every cell decided", "budget": "the budget ran out",
               "out of reach": "what is undecided could not decide within the budget",
               "looks": f"stopped at the cap of {self.looks} looks",
               "interrupted": "interrupted", "no budget": "no budget for more"}[self.stop]
        return f"rounds: {'; '.join(parts)}; {self.looks} look(s); {why}"


def undecided(bench: Bench, comparisons: list[Comparison], reach: int | None = None
              ) -> tuple[list[Cell], int]:
    """The cells the next look's rounds are for, and how many rounds it wants: each cell with
    an inconclusive comparison, with the baseline cell of its scenario (a verdict pairs the two
    round by round). A comparison with fewer than two paired rounds gets none: its cell failed
    or was invalid, and more of the same would not decide it. Nor does one that `reach` rounds
    in all could not decide (compare.could_decide): the budget goes where it can buy a
    verdict, not to a p99 that would need hundreds of rounds."""
    pending = [c for c in comparisons if c.verdict == INCONCLUSIVE and c.spread is not None
               and (reach is None or could_decide(c, reach))]
    names = {c.cell for c in pending} | {c.baseline for c in pending}
    return [cell for cell in bench.cells() if cell.name in names], extra_rounds(pending)


def run_budgeted(bench: Bench, store: RunStore, run_rounds: RoundRunner,
                 on_round: Callable[[int, Sequence[Cell]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> Budgeted:
    """The planned rounds, then (with bench.budget_s) rounds for the undecided cells: at each
    look as many as the noisiest inconclusive comparison needs (compare.extra_rounds), one
    interleaved round at a time, each only if it fits in what is left of the budget at the
    mean time of a trial so far; at most bench.looks looks. `on_round` hears of each added
    round (its index and cells) before it starts."""
    started, budget = clock(), bench.budget_s or 0.0
    written, complete = run_rounds(bench, bench.cells(), 0)
    rounds, looks = bench.rounds, 1
    stop = "no budget" if bench.budget_s is None else "looks"
    if not complete:
        stop = "interrupted"
    while stop == "looks":
        comparisons, _ = compare(store.trials(), bench.baseline, level=look_level(bench.looks))
        if not any(c.verdict == INCONCLUSIVE and c.spread is not None for c in comparisons):
            stop = "decided"
            break
        # The most rounds one cell could still get: a round of it is two trials, paired.
        elapsed = clock() - started
        reach = rounds + int(max(0.0, budget - elapsed) / (2 * elapsed / written))
        cells, wanted = undecided(bench, comparisons, reach)
        if not cells:
            stop = "out of reach"
        if not cells or looks == bench.looks:
            break
        ran, documents = 0, sum(1 + (b is not None) for _, b in trials_of(bench, cells))
        for _ in range(wanted):
            elapsed = clock() - started
            if elapsed + elapsed / written * documents > budget:
                stop = "budget"
                break
            if on_round is not None:
                on_round(rounds, cells)
            done, complete = run_rounds(replace(bench, rounds=1, seed=bench.seed + rounds), cells,
                                        rounds)
            written, rounds, ran = written + done, rounds + 1, ran + 1
            if not complete:
                stop = "interrupted"
                break
        looks += 1 if ran else 0
    ran_in = {(t.cell.name, t.round) for t in store.trials()  # a pair's baseline
              if t.status != "skipped"}
    return Budgeted(dict(Counter(name for name, _ in ran_in)), looks, stop)  # has several
