"""The results store: results/<machine-id>/<run-id>/, one self-describing JSON per trial.

Each trial file carries the schema version, the machine, loadgen's commit, the cell (target,
server, scenario and its parameters), the packages of the environment that served it, its
round and position, and the full run result (histograms included): a Trial
(loadgen.results.model). A file of a schema version this loadgen does not read is refused in one
line rather than misread (loadgen.results.versions).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import cpus
from loadgen.errors import LoadgenError
from loadgen.results.model import Trial
from loadgen.results.output import write_atomically
from loadgen.results.versions import json_text, read

RESULTS_DIR = Path("results")  # of the working directory; --results names another


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"hostname": platform.node(), "cpu_model": model, "cores": os.cpu_count(),
            "available_cores": list(cpus.available()), "os": platform.platform(),
            "python": platform.python_version()}


def machine_id(info: dict[str, Any]) -> str:
    """A short stable name for the machine: results of different machines never mix."""
    key = f"{info['hostname']}|{info['cpu_model']}|{info['cores']}"
    return f"{info['hostname']}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def toolkit_commit() -> dict[str, Any]:
    """The commit of the checkout loadgen runs from, and whether it has changes; for a copy
    installed from a package, its version."""
    here = Path(__file__).resolve()

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(here.parent), *args], capture_output=True,
                                  text=True)
        except OSError:  # no git on this machine
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""
    # An installed copy may lie inside some work tree (a virtual environment in a checkout):
    # only a tracked file makes it loadgen's own checkout.
    if git("ls-files", "--", str(here)):
        return {"commit": git("rev-parse", "HEAD") or None,
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    try:
        return {"commit": importlib.metadata.version("loadgen"), "dirty": False}
    except importlib.metadata.PackageNotFoundError:
        return {"commit": None, "dirty": False}


@dataclass(frozen=True)
class RunStore:
    """One bench run's folder."""

    path: Path

    @classmethod
    def new(cls, root: Path = RESULTS_DIR, info: dict[str, Any] | None = None) -> RunStore:
        """A new run folder under root/MACHINE/."""
        return cls.create(root / machine_id(info or machine()))

    @classmethod
    def create(cls, folder: Path) -> RunStore:
        """A new run folder in `folder`, named by the time (and a number, if that is taken)."""
        run_id = time.strftime("%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(100):
            path = folder / (run_id if attempt == 0 else f"{run_id}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise LoadgenError(f"cannot make a run folder in {folder}")

    def write_trial(self, document: dict[str, Any]) -> Trial:
        """Write one trial as soon as it ends (atomically), so nothing measured is lost. The
        document is read as a Trial first: a writer that drifts from the record fails here, in
        its tests, not in every reader later."""
        trial = Trial.from_json(document)
        name = (f"trial-r{trial.round:02d}-p{trial.position:02d}-"
                f"{trial.cell.name.replace('/', '_')}.json")
        write_atomically(self.path / name, json_text(trial.to_json()))
        return trial

    def trials(self) -> list[Trial]:
        return [read_trial(p) for p in sorted(self.path.glob("trial-*.json"))]

    def readable_trials(self) -> tuple[list[Trial], list[str]]:
        """The trials that read, and why each other did not (a file cut short, another
        schema version): one damaged file need not keep the rest from a comparison."""
        trials, problems = [], []
        for path in sorted(self.path.glob("trial-*.json")):
            try:
                trials.append(read_trial(path))
            except LoadgenError as exc:
                problems.append(str(exc))
        return trials, problems


def read_trial(path: Path) -> Trial:
    """A trial file (schema version 1 or 2); any other is refused in one line."""
    return read(path, "a trial", Trial.from_json)
