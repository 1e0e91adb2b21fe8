"""The bench file (bench.toml): the matrix of targets, servers and scenarios, the load, the rounds
and the baseline, read into frozen configuration.

    rounds = 3
    budget = "10m"         # optional: rounds for inconclusive cells while this time lasts
    paired = true          # the default: each cell's trial beside the baseline's, in turns
    baseline = { target = "starlette", server = "uvicorn" }

    [load]                 # open loop at `rate`, or closed loop when `rate` is absent
    rate = 300
    connections = 64
    duration = "5s"
    warmup = "1s"

    [[target]]
    name = "starlette"     # targets/starlette_app.py
    app = "starlette"      # optional: another target under this name (A/A runs)
    app_dir = "targets"    # optional: where NAME_app.py lives, relative to the bench file
    packages = ["starlette==0.37.2", "python-multipart==0.0.9"]   # optional: its own venv

    [[server]]
    name = "uvicorn"       # or "inproc" / "callgrind": the app called in process, timed or
    workers = 1            # counted in instructions (loadgen.inproc.measure)

    [[scenario]]
    name = "routing"       # built in, or a file: NAME.py, relative to the bench file
    params = { routes = 100 }
    rate = 300             # optional: this scenario's own rate
    duration = "5s"        # optional: this scenario's own measured time

    protocol = ["http1", "https", "uds"]   # optional (default ["http1"]): each scenario over
                           # each; a cell a server cannot serve is skipped, with the reason
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loadgen import schema
from loadgen.analysis.compare import MAX_LOOKS
from loadgen.errors import LoadgenError
from loadgen.measure.executors import EXECUTORS
from loadgen.servers.launchers import PROTOCOLS, TARGETS_DIR
from loadgen.workloads.profile import LoadProfile, parse_duration


@dataclass(frozen=True)
class TargetSpec:
    name: str  # the label in results and reports
    app: str  # the target: NAME_app.py in app_dir
    app_dir: Path = TARGETS_DIR
    packages: tuple[str, ...] = ()  # its own environment's packages; () = loadgen's own


@dataclass(frozen=True)
class ServerEntry:
    name: str
    workers: int = 1


@dataclass(frozen=True)
class ScenarioEntry:
    name: str
    params: tuple[tuple[str, str], ...] = ()
    rate: float | None = None
    label: str = ""  # its name in results: the scenario's, unless it is there twice
    duration: str | None = None  # its own measured time, else the [load]'s
    protocol: str = "http1"  # how the servers are reached (launchers.PROTOCOLS)

    def __post_init__(self) -> None:
        if not self.label:  # a scenario file is named by its stem: labels go in paths
            object.__setattr__(self, "label", Path(self.name).stem)


def over(entries: tuple[ScenarioEntry, ...], protocols: tuple[str, ...]
         ) -> tuple[ScenarioEntry, ...]:
    """Each scenario over each protocol, labelled "routing@https" but for HTTP/1.1 over TCP:
    a scenario's cells are compared with its baseline cell, so each protocol's servers are
    compared with the baseline server over the same protocol."""
    return tuple(e if protocol == "http1" else replace(e, protocol=protocol,
                                                        label=f"{e.label}@{protocol}")
                 for e in entries for protocol in protocols)


def labelled(entries: list[ScenarioEntry], always: bool = False) -> tuple[ScenarioEntry, ...]:
    """The entries, each scenario that appears more than once (or, `always`, each one with
    parameters) labelled with its parameters (routing(routes=10), routing(routes=100)), so
    that each is a cell of its own."""
    names = [e.name for e in entries]
    return tuple(
        replace(e, label=f"{e.label}({','.join(f'{k}={v}' for k, v in e.params)})")
        if names.count(e.name) > 1 or (always and e.params) else e for e in entries)


@dataclass(frozen=True)
class Cell:
    """One combination of the matrix."""

    target: TargetSpec
    server: ServerEntry
    scenario: ScenarioEntry

    @property
    def name(self) -> str:
        return f"{self.target.name}/{self.server.name}/{self.scenario.label}"


@dataclass(frozen=True)
class Bench:
    targets: tuple[TargetSpec, ...]
    servers: tuple[ServerEntry, ...]
    scenarios: tuple[ScenarioEntry, ...]
    load: dict[str, Any]
    rounds: int
    baseline: tuple[str, str]  # (target, server): each scenario's cells are compared to it
    seed: int = 0
    budget_s: float | None = None  # the whole bench's time, rounds added while undecided
    looks: int = 1  # the cap on looks at each comparison (compare.look_level)
    # Each cell's trial runs beside its scenario's baseline cell, the two loaded in turns
    # (loadgen.measure.trial), where the scenario allows: open loop, over HTTP, with no flow.
    paired: bool = False

    def cells(self) -> list[Cell]:
        """The cells to measure: every combination a server can serve."""
        return [cell for cell in self.matrix() if skip_reason(cell) is None]

    def matrix(self) -> list[Cell]:
        return [Cell(t, s, sc) for t in self.targets for s in self.servers
                for sc in self.scenarios]

    def skipped(self) -> list[tuple[Cell, str]]:
        """The combinations not measured, each with why."""
        return [(cell, reason) for cell in self.matrix()
                if (reason := skip_reason(cell)) is not None]

    def profile(self, scenario: ScenarioEntry) -> LoadProfile:
        load = self.load
        common: dict[str, Any] = dict(
            connections=int(load.get("connections", 64)),
            warmup_s=parse_duration(str(load.get("warmup", "1s"))),
            timeout_s=parse_duration(str(load.get("timeout", "5s"))),
        )
        duration = parse_duration(str(scenario.duration or load.get("duration", "5s")))
        rate = scenario.rate if scenario.rate is not None else load.get("rate")
        if rate is None:
            return LoadProfile(duration_s=duration, **common)
        return LoadProfile.constant(float(rate), duration, **common)

    def is_baseline(self, cell: Cell) -> bool:
        return (cell.target.name, cell.server.name) == self.baseline


def skip_reason(cell: Cell) -> str | None:
    """Why the cell's server cannot serve its scenario's protocol, if it cannot."""
    protocol = cell.scenario.protocol
    if protocol not in EXECUTORS[cell.server.name].protocols:
        return f"{cell.server.name} does not serve {protocol}"
    return None


def with_budget(bench: Bench, seconds: float) -> Bench:
    """The bench with a time budget: after its rounds, more for the undecided cells while the
    budget lasts, at most MAX_LOOKS looks in all; 0 s is no budget (one look)."""
    return replace(bench, budget_s=seconds or None, looks=MAX_LOOKS if seconds else 1)


FILE = {"rounds": schema.at_least(2), "budget": schema.DURATION, "baseline": schema.TABLE,
        "seed": schema.at_least(0), "paired": schema.FLAG, "load": schema.TABLE,
        "target": schema.LIST, "server": schema.LIST, "scenario": schema.LIST,
        "nightly": schema.TABLE, "protocol": schema.LIST}
LOAD = {"rate": schema.POSITIVE, "connections": schema.at_least(1),
        "duration": schema.DURATION, "warmup": schema.DURATION, "timeout": schema.DURATION}
BASELINE = {"target": schema.TEXT, "server": schema.TEXT}
TABLES = {
    "target": {"name": schema.TEXT, "app": schema.TEXT, "app_dir": schema.TEXT,
               "packages": schema.LIST},
    "server": {"name": schema.TEXT, "workers": schema.at_least(1)},
    "scenario": {"name": schema.TEXT, "params": schema.TABLE, "rate": schema.POSITIVE,
                 "duration": schema.DURATION},
}


def _table(data: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not entries or not all(
            isinstance(e, dict) and "name" in e for e in entries):
        raise LoadgenError(f"{path}: needs at least one [[{key}]] with a name")
    for entry in entries:
        schema.check(entry, TABLES[key], f"{path}: [[{key}]] {entry['name']!r}")
    return entries


def _scenario_name(name: str, path: Path) -> str:
    """A built-in scenario's name as it is; a scenario file's path relative to the bench file,
    as app_dir is."""
    return str((path.parent / name).resolve()) if name.endswith(".py") else name


def load_bench(path: Path) -> Bench:
    """Read and check a bench file; any problem is one line naming the file."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LoadgenError(f"no bench file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LoadgenError(f"{path}: {exc}") from None
    schema.check(data, FILE, str(path))
    schema.check(data.get("load", {}), LOAD, f"{path}: [load]")
    schema.check(data.get("baseline", {}), BASELINE, f"{path}: baseline")
    targets = tuple(
        TargetSpec(str(e["name"]), str(e.get("app", e["name"])),
                   (path.parent / e["app_dir"]).resolve() if "app_dir" in e else TARGETS_DIR,
                   tuple(str(p) for p in e.get("packages", ())))
        for e in _table(data, "target", path))
    servers = tuple(ServerEntry(str(e["name"]), int(e.get("workers", 1)))
                    for e in _table(data, "server", path))
    scenarios = labelled([
        ScenarioEntry(_scenario_name(str(e["name"]), path),
                      tuple((str(k), str(v)) for k, v in e.get("params", {}).items()),
                      float(e["rate"]) if "rate" in e else None,
                      duration=str(e["duration"]) if "duration" in e else None)
        for e in _table(data, "scenario", path)])
    for server in servers:
        if server.name not in EXECUTORS:
            raise LoadgenError(f"{path}: unknown server {server.name!r}; choose from: "
                               f"{', '.join(EXECUTORS)}")
    if len({s.label for s in scenarios}) < len(scenarios):
        raise LoadgenError(f"{path}: a [[scenario]] is there twice with the same parameters")
    protocols = tuple(str(p) for p in data.get("protocol", ["http1"]))
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols or len(set(protocols)) < len(protocols):
        raise LoadgenError(f"{path}: protocol takes distinct ones of {', '.join(PROTOCOLS)}, "
                           f"not {protocols}")
    scenarios = over(scenarios, protocols)
    baseline = data.get("baseline", {})
    chosen = (str(baseline.get("target", targets[0].name)),
              str(baseline.get("server", servers[0].name)))
    if chosen[0] not in {t.name for t in targets} or chosen[1] not in {s.name for s in servers}:
        raise LoadgenError(f"{path}: the baseline {chosen[0]}/{chosen[1]} is not in the matrix")
    bench = Bench(targets, servers, scenarios, dict(data.get("load", {})),
                  int(data.get("rounds", 3)), chosen, int(data.get("seed", 0)),
                  paired=bool(data.get("paired", True)))
    if "budget" in data:
        try:
            bench = with_budget(bench, parse_duration(str(data["budget"])))
        except LoadgenError as exc:
            raise LoadgenError(f"{path}: budget: {exc}") from None
    for scenario in scenarios:
        bench.profile(scenario)  # a bad load section fails now, not in round 2
    return bench
