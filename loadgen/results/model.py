"""A trial as it is stored and read: one self-describing document per trial of a bench run,
with the machine it ran on, loadgen's commit, its cell, and its result (loadgen.results.figures).
Every reader (compare, the series, the reports, the summary) reads trials through these records;
the trial files are theirs, field for field (loadgen.results.store).

A field with a default is one a version 1 file may lack, and the default says what it meant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from loadgen.results.codec import OMITTED_WHEN_NONE, Record
from loadgen.results.figures import Result, read_result
from loadgen.workloads.profile import LoadProfile


@dataclass(frozen=True, kw_only=True)
class Machine(Record):
    """What the figures were measured on."""

    hostname: str
    cpu_model: str
    cores: int | None  # os.cpu_count(): None where it cannot tell
    available_cores: tuple[int, ...]
    os: str
    python: str


@dataclass(frozen=True, kw_only=True)
class Toolkit(Record):
    """The loadgen that measured: its commit (or an installed copy's version), and whether
    the checkout had changes."""

    commit: str | None
    dirty: bool


@dataclass(frozen=True, kw_only=True)
class Cell(Record):
    """A cell of the bench matrix: a target served by a server under a scenario, and the
    load it got."""

    name: str  # target/server/scenario
    target: str
    app: str
    server: str
    workers: int
    scenario: str  # its label
    params: dict[str, Any]
    load: LoadProfile | None = None  # None: not recorded before version 2
    baseline: bool
    # How an in-process executor measured, where its figures depend on it (instruction counts:
    # loadgen.inproc.measure.COUNTING); None over the wire, and for counts before the fork
    # per kind.
    method: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    # How the server was reached, but for HTTP/1.1 over TCP (None): "https" or "uds".
    protocol: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)

    @property
    def series_key(self) -> str:
        """What its figures depend on besides the target, as text: the trials of a history
        that share it are points of one series (counts of two methods are not)."""
        return json.dumps({"server": self.server, "workers": self.workers,
                           "scenario": self.scenario, "params": self.params,
                           "load": None if self.load is None else self.load.to_json(),
                           **({"method": self.method} if self.method else {}),
                           **({"protocol": self.protocol} if self.protocol else {})},
                          sort_keys=True)


@dataclass(frozen=True, kw_only=True)
class Trial(Record):
    """One trial of one cell, as the bench runner wrote it the moment it ended."""

    run_id: str
    machine: Machine
    toolkit: Toolkit
    baseline: tuple[str, str]  # the run's baseline (target, server)
    looks: int = 1  # how often the run may look at its verdicts: 1 before version 2
    round: int
    position: int  # in its round's order
    hash_seed: int | None = None  # the servers' PYTHONHASHSEED; None: each drew its own
    cell: Cell
    pair: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # the cell a paired
    # trial was for, in both its halves
    # skipped: a cell of the matrix its server cannot serve; `error` says why
    status: Literal["ok", "failed", "interrupted", "skipped"]
    result: Result | None = field(default=None, metadata={**OMITTED_WHEN_NONE,
                                                          "read": read_result})
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # why it failed
    packages: dict[str, str]  # of the environment that served it

    @property
    def usable_result(self) -> Result | None:
        """Its result, if it measured correct answers without the generator being the limit:
        only such a result counts in a verdict or a series."""
        result = self.result
        if self.status != "ok" or result is None or not result.valid or result.generator_bound:
            return None
        return result

    @property
    def usable(self) -> bool:
        return self.usable_result is not None
