"""Shared by the benchmark scripts: system tools installed on demand, a loadgen subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LOADGEN = [sys.executable, "-m", "loadgen"]


def ensure_tools(*packages: tuple[str, str]) -> None:
    """Install (command, Debian package) pairs that are missing, with apt-get as root."""
    missing = [pkg for cmd, pkg in packages if shutil.which(cmd) is None
               and not Path("/usr/sbin", cmd).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def loadgen_json(args: list[str]) -> dict[str, object]:
    """Run `loadgen run ARGS --json F` and return the result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "result.json")
        subprocess.run([*LOADGEN, "run", *args, "--json", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())  # type: ignore[no-any-return]
