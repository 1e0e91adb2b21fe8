"""How a trial is measured, one executor per kind of server a bench cell may name: over the
wire (the named server started as a real process, loaded by the engine), or the app called in
process with no server, timed ("inproc") or counted under callgrind ("callgrind"). A new way to
measure is one class here and one entry in EXECUTORS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from loadgen.inproc import measure as inproc
from loadgen.measure.runner import Placement
from loadgen.measure.trial import run_served
from loadgen.servers.launchers import LAUNCHERS, ServerSpec
from loadgen.servers.pyspy import SamplingPlan
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.workload import ScenarioWorkload


@dataclass(frozen=True)
class TrialInput:
    """Everything one trial needs, whichever executor runs it."""

    spec: ServerSpec  # the server to start: its app, Python, cores, log and environment
    app: str  # the target's app as named (NAME_app.py in spec.app_dir)
    target: str  # the target's name in the results
    workload: ScenarioWorkload
    profile: LoadProfile
    placement: Placement
    sampling: SamplingPlan | None = None  # py-spy on the server, over the wire only


class Executor(Protocol):
    # Whether two of its trials can share one trial, loaded in turns (measure.trial.run_paired)
    pairable: ClassVar[bool]

    @property
    def protocols(self) -> tuple[str, ...]:
        """How its server can be reached (launchers.PROTOCOLS)."""
        ...

    @property
    def deterministic(self) -> bool:
        """Whether its figures repeat when the same code is measured again: one round then
        decides (loadgen.results.metrics: Metric.deterministic)."""
        ...

    @property
    def method(self) -> str | None:
        """How it measures, where its figures depend on it (model.Cell.method)."""
        ...

    def run(self, trial: TrialInput) -> tuple[str, dict[str, Any]]:
        """The trial's status ("ok" or "interrupted") and its result's JSON."""
        ...


@dataclass(frozen=True)
class OverTheWire:
    protocols: tuple[str, ...]  # what its server serves (Launcher.protocols)
    pairable: ClassVar[bool] = True
    method: ClassVar[None] = None
    deterministic: ClassVar[bool] = False

    def run(self, trial: TrialInput) -> tuple[str, dict[str, Any]]:
        result = run_served(trial.spec, trial.target, trial.workload, trial.profile,
                            trial.placement, sampling=trial.sampling)
        return "interrupted" if result.interrupted else "ok", result.to_json()


@dataclass(frozen=True)
class InProcess:
    instructions: bool  # counted under callgrind, or timed
    pairable: ClassVar[bool] = False
    protocols: ClassVar[tuple[str, ...]] = ("http1",)  # no socket: its one cell is http1's

    @property
    def method(self) -> str | None:
        return inproc.COUNTING if self.instructions else None

    @property
    def deterministic(self) -> bool:
        return self.instructions

    def run(self, trial: TrialInput) -> tuple[str, dict[str, Any]]:
        assert trial.placement.server is not None  # its driver runs on the server's cores
        plan = inproc.plan_for(trial.app, trial.spec.app_dir, trial.spec.python, trial.workload,
                               instructions=self.instructions, cores=trial.placement.server)
        return "ok", inproc.run_inproc(plan).to_json()


EXECUTORS: dict[str, Executor] = {
    **{name: OverTheWire(launcher.protocols) for name, launcher in LAUNCHERS.items()},
    "inproc": InProcess(instructions=False),
    "callgrind": InProcess(instructions=True),
}


def deterministic(server: str) -> bool:
    """Whether the trials of the server so named repeat (a name loadgen does not know is
    refused, with the others' names, where its server is started)."""
    return server in EXECUTORS and EXECUTORS[server].deterministic
