"""The results store: results/<machine-id>/<run-id>/, one self-describing JSON per trial.

Each trial file carries the schema version, the machine, loadgen's commit, the cell (target,
server, scenario and its parameters), the packages of the environment that served it, its
round and position, and the full run result (histograms included). A file of another schema
version is refused in one line rather than misread.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import cpus
from loadgen.errors import LoadgenError
from loadgen.output import write_atomically

SCHEMA_VERSION = 1
RESULTS_DIR = Path("results")
_REPO = Path(__file__).resolve().parent.parent


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
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


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

    def write_trial(self, document: dict[str, Any]) -> Path:
        """Write one trial as soon as it ends (atomically), so nothing measured is lost."""
        name = (f"trial-r{document['round']:02d}-p{document['position']:02d}-"
                f"{document['cell']['name'].replace('/', '_')}.json")
        path = self.path / name
        write_atomically(path, json.dumps({"schema_version": SCHEMA_VERSION, **document},
                                          indent=1) + "\n")
        return path

    def trials(self) -> list[dict[str, Any]]:
        return [read_trial(p) for p in sorted(self.path.glob("trial-*.json"))]

    def readable_trials(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The trials that read, and why each other did not (a file cut short, another
        schema version): one damaged file need not keep the rest from a comparison."""
        trials, problems = [], []
        for path in sorted(self.path.glob("trial-*.json")):
            try:
                trials.append(read_trial(path))
            except LoadgenError as exc:
                problems.append(str(exc))
        return trials, problems


def read_trial(path: Path) -> dict[str, Any]:
    """A trial document; one of another schema version is refused."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LoadgenError(f"cannot read {path}: {exc}") from None
    version = document.get("schema_version") if isinstance(document, dict) else None
    if version != SCHEMA_VERSION:
        raise LoadgenError(f"{path}: schema version {version!r}; this loadgen reads version "
                           f"{SCHEMA_VERSION}")
    return document  # type: ignore[no-any-return]
