"""Does running the generator on Dask change the figures? The same open-loop load from two
local processes (`--processes 2`) and from a LocalCluster of two worker processes
(`--cluster`), against one uvicorn, alternated PAIRS times (local, cluster, local, ...).
Prints each pair and the cluster/local ratios of p50, p99 and the send lag's p99, each with
its 95% interval.
Goal: the same achieved rate, a p50 within 10%.

The server sits on the server core; the cluster's workers and the local processes on the
generator core (the cluster's worker processes inherit this script's affinity).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from distributed import LocalCluster

from loadgen import cpus
from loadgen.analysis.intervals import bootstrap_interval
from loadgen.servers.launchers import ServerSpec, running_server, target_app

from _common import loadgen_json

PAIRS = 12
RATE = 2000
SECONDS = 10
FIGURES: dict[str, Callable[[dict[str, Any]], float]] = {
    "p50": lambda r: float(r["latency_us"]["corrected"]["p50"]),
    "p99": lambda r: float(r["latency_us"]["corrected"]["p99"]),
    "send lag p99": lambda r: float(r["send_lag_us"]["p99"]),
}


def main() -> None:
    server_cores, generator_cores = cpus.split()
    os.sched_setaffinity(0, generator_cores)
    spec = ServerSpec("uvicorn", target_app("raw"), cpus=server_cores)
    with running_server(spec) as server, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=":0") as cluster:
        args = [f"http://{server.endpoint.authority}/plaintext", "--rate", str(RATE), "-d",
                f"{SECONDS}s", "--processes", "2", "--cpus", cpus.format_cores(generator_cores)]
        ratios: dict[str, list[float]] = {name: [] for name in FIGURES}
        for n in range(1, PAIRS + 1):
            local = loadgen_json(args)
            remote = loadgen_json([*args, "--cluster", cluster.scheduler_address])
            line = [f"pair {n}: req/s local {local['throughput_rps']}, cluster "
                    f"{remote['throughput_rps']}"]
            for name, figure in FIGURES.items():
                here, there = figure(local), figure(remote)
                ratios[name].append(there / here)
                line.append(f"{name} {here:.0f} / {there:.0f} µs")
            print("; ".join(line), flush=True)
    print(f"{RATE} req/s open loop for {SECONDS} s, uvicorn (raw target) on core "
          f"{cpus.format_cores(server_cores)}, generator on core "
          f"{cpus.format_cores(generator_cores)}, {PAIRS} pairs; cluster/local, geometric mean "
          f"and 95% interval (goal for p50: within 10%):")
    for name, values in ratios.items():
        mean, low, high = bootstrap_interval(values)
        print(f"  {name}: {mean:.3f} [{low:.3f}, {high:.3f}]")


if __name__ == "__main__":
    main()
