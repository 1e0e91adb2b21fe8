"""Is the generator the bottleneck? loadgen against wrk on the same nginx, side by side.

nginx (one worker) answers a fixed string on one core; loadgen and `wrk -t1` take turns on the
other core, both closed loop with 64 connections, for ROUNDS rounds (A B A B ...). Prints each
run's req/s and the per-round ratio loadgen/wrk. The goal is a ratio of at least 0.9.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from loadgen import cpus
from loadgen.servers.launchers import ServerProcess, free_port
from loadgen.workloads.request import Endpoint

from _common import ensure_tools, loadgen_json

ROUNDS = 5
SECONDS = 5
CONNECTIONS = 64
GOAL = 0.9

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {dir};
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "Hello, world!"; }}
  }}
}}
"""


def wrk_rps(url: str, core: int) -> float:
    out = subprocess.run(
        ["taskset", "-c", str(core), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    return float(match.group(1))


def loadgen_rps(url: str, core: int) -> float:
    result = loadgen_json([url, "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--warmup", "1s",
                           "--cpus", str(core)])
    return float(result["throughput_rps"])  # type: ignore[arg-type]


def main() -> None:
    ensure_tools(("nginx", "nginx-light"), ("wrk", "wrk"))
    server_cores, generator_cores = cpus.split()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as tmp:
        endpoint = Endpoint("127.0.0.1", free_port("127.0.0.1"))
        conf = Path(tmp, "nginx.conf")
        conf.write_text(NGINX_CONF.format(dir=tmp, port=endpoint.port))
        url = f"http://{endpoint.authority}/plaintext"
        print(f"nginx (1 worker) on core {cpus.format_cores(server_cores)}; "
              f"generators on core {generator_cores[0]}; {CONNECTIONS} connections, "
              f"{SECONDS} s per run, {ROUNDS} rounds (loadgen, wrk alternating)")
        ratios = []
        with ServerProcess("nginx", [nginx, "-c", str(conf), "-p", tmp], endpoint,
                           cpus=server_cores, log_path=Path(tmp, "nginx.log")):
            for n in range(1, ROUNDS + 1):
                ours = loadgen_rps(url, generator_cores[0])
                theirs = wrk_rps(url, generator_cores[0])
                ratios.append(ours / theirs)
                print(f"round {n}: loadgen {ours:>10,.0f} req/s   wrk {theirs:>10,.0f} req/s   "
                      f"ratio {ratios[-1]:.3f}")
    median = statistics.median(ratios)
    verdict = "meets" if median >= GOAL else "misses"
    print(f"median ratio loadgen/wrk {median:.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}): {verdict} the goal of {GOAL}")


if __name__ == "__main__":
    main()
