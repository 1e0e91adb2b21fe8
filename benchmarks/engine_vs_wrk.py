"""Is the generator the bottleneck? loadgen against wrk on the same nginx, side by side.

nginx (one worker) answers a fixed string on one core; loadgen and `wrk -t1` take turns on the
other core, both closed loop with 64 connections, for ROUNDS rounds (A B A B ...). Prints each
run's req/s and the per-round ratio loadgen/wrk. The goal is a ratio of at least 0.9.
"""

from __future__ import annotations

import statistics
import tempfile

from loadgen import cpus
from loadgen.servers.launchers import free_port
from loadgen.workloads.request import Endpoint

from _common import ensure_tools, loadgen_json, nginx, wrk_rps

ROUNDS = 5
SECONDS = 5
CONNECTIONS = 64
GOAL = 0.9



def loadgen_rps(url: str, core: int) -> float:
    result = loadgen_json([url, "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--warmup", "1s",
                           "--cpus", str(core)])
    return float(result["throughput_rps"])  # type: ignore[arg-type]


def main() -> None:
    ensure_tools(("nginx", "nginx-light"), ("wrk", "wrk"))
    server_cores, generator_cores = cpus.split()
    with tempfile.TemporaryDirectory() as tmp:
        endpoint = Endpoint("127.0.0.1", free_port("127.0.0.1"))
        url = f"http://{endpoint.authority}/plaintext"
        print(f"nginx (1 worker) on core {cpus.format_cores(server_cores)}; "
              f"generators on core {generator_cores[0]}; {CONNECTIONS} connections, "
              f"{SECONDS} s per run, {ROUNDS} rounds (loadgen, wrk alternating)")
        ratios = []
        with nginx(tmp, endpoint, server_cores):
            for n in range(1, ROUNDS + 1):
                ours = loadgen_rps(url, generator_cores[0])
                theirs = wrk_rps(url, generator_cores[0], CONNECTIONS, SECONDS)
                ratios.append(ours / theirs)
                print(f"round {n}: loadgen {ours:>10,.0f} req/s   wrk {theirs:>10,.0f} req/s   "
                      f"ratio {ratios[-1]:.3f}")
    median = statistics.median(ratios)
    verdict = "meets" if median >= GOAL else "misses"
    print(f"median ratio loadgen/wrk {median:.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}): {verdict} the goal of {GOAL}")


if __name__ == "__main__":
    main()
