"""One virtual environment per target spec and server, built with uv and cached.

A target that names its packages (say `starlette==0.37.2` and `python-multipart==0.0.9`) is
served from an environment holding exactly those plus the server's own packages, so versions
can be compared side by side. Environments live under .cache/envs/ of the working directory
(or envs/ of $LOADGEN_CACHE), keyed by a hash of what they hold, and are reused across runs; a
spec that cannot be installed fails with the installer's message, and only the cells that need
it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from loadgen.errors import LoadgenError

# What loadgen builds and keeps between runs, not beside its own code: that may be an installed,
# read-only copy. Absolute, as servers and git run in other folders.
CACHE_ROOT = Path(os.environ.get("LOADGEN_CACHE") or ".cache").resolve()
CACHE_DIR = CACHE_ROOT / "envs"
# What each server needs besides itself, for the loop and parser it is started with.
SERVER_PACKAGES = {
    "uvicorn": ("uvicorn", "uvloop", "httptools"),
    "uvicorn-h11": ("uvicorn", "h11"),
    "hypercorn": ("hypercorn", "uvloop"),
    "granian": ("granian", "uvloop"),
    "daphne": ("daphne",),
    # The in-process driver: the target's packages alone.
    "inproc": (),
    "callgrind": (),
}
INSTALL_TIMEOUT_S = 600


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise LoadgenError("uv is needed to build environments: pip install uv")
    return found


def requirements(packages: tuple[str, ...], server: str) -> tuple[str, ...]:
    return tuple(sorted({*packages, *SERVER_PACKAGES.get(server, (server,))}))


def environment(packages: tuple[str, ...], server: str) -> str:
    """The Python of the environment for `packages` served by `server`, built if missing."""
    wanted = requirements(packages, server)
    version = ".".join(map(str, sys.version_info[:2]))
    key = hashlib.sha256("\n".join((version, *wanted)).encode()).hexdigest()[:16]
    home = CACHE_DIR / key
    python = home / "bin" / "python"
    if (home / ".ready").exists():
        return str(python)
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    steps = ([_uv(), "venv", "--quiet", "--python", sys.executable, str(home)],
             [_uv(), "pip", "install", "--quiet", "--python", str(python), *wanted])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        if done.returncode:
            shutil.rmtree(home, ignore_errors=True)
            message = " ".join(done.stderr.split())[-400:]
            raise LoadgenError(f"cannot install {' '.join(wanted)}: {message}")
    (home / "requirements.txt").write_text("\n".join(wanted) + "\n")
    (home / ".ready").write_text("")
    return str(python)


def frozen(python: str) -> dict[str, str]:
    """The resolved package versions of an environment."""
    done = subprocess.run([_uv(), "pip", "freeze", "--python", python], capture_output=True,
                          text=True)
    versions = {}
    for line in done.stdout.splitlines():
        # "name==1.2" from an index, "name @ file:///..." from a path or a repository
        name, sep, version = line.partition("==") if "==" in line else line.partition(" @ ")
        if sep:
            versions[name.strip().lower()] = version.strip()
    return versions
