"""Does memory stay flat? Peak RSS of a 60 s closed-loop run against that of a 10 s run.

The raw ASGI target on uvicorn takes one core, loadgen the other; each run is a fresh loadgen
process whose peak RSS comes from wait4(). The goal: the 60 s run within 20 MB of the 10 s one.
"""

from __future__ import annotations

import os
import subprocess

from loadgen import cpus
from loadgen.servers.launchers import ServerSpec, running_server

from _common import LOADGEN

GOAL_MB = 20.0


def peak_rss_mb(url: str, seconds: int, core: int) -> float:
    proc = subprocess.Popen([*LOADGEN, "run", url, "-c", "64", "-d", f"{seconds}s",
                             "--cpus", str(core)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"loadgen exited with {proc.returncode}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    server_cores, generator_cores = cpus.split()
    with running_server(ServerSpec("uvicorn", "raw_app:app", cpus=server_cores)) as server:
        url = f"http://{server.endpoint.authority}/plaintext"
        print(f"uvicorn + raw ASGI on core {cpus.format_cores(server_cores)}, "
              f"loadgen on core {generator_cores[0]}, closed loop, 64 connections")
        short = peak_rss_mb(url, 10, generator_cores[0])
        long = peak_rss_mb(url, 60, generator_cores[0])
    growth = long - short
    verdict = "meets" if growth <= GOAL_MB else "misses"
    print(f"peak RSS: 10 s run {short:.1f} MB, 60 s run {long:.1f} MB, "
          f"growth {growth:+.1f} MB: {verdict} the goal of at most {GOAL_MB:g} MB")


if __name__ == "__main__":
    main()
