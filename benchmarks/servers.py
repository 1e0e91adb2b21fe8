"""The README's table: raw ASGI against Starlette on each server, closed loop, /plaintext.

Every (target, server) cell runs once per round, in the same order each round, ROUNDS rounds
(interleaved, so drift hits every cell alike); a fresh server per run. Prints the median req/s,
the median server CPU µs per request and the cores, as a Markdown table.
"""

from __future__ import annotations

import statistics
import sys

from loadgen import cpus

from _common import loadgen_json

ROUNDS = 3
SECONDS = 5
SERVERS = ("uvicorn", "hypercorn", "granian", "daphne")
TARGETS = ("raw", "starlette")


def main() -> None:
    server_cores, generator_cores = cpus.split()
    rps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for n in range(1, ROUNDS + 1):
        for server in SERVERS:
            for target in TARGETS:
                result = loadgen_json(["/plaintext", "--target", target, "--server", server,
                                       "-c", "64", "-d", f"{SECONDS}s"])
                if result["generator_bound"]:
                    print(f"warning: {target} on {server} was generator-bound", file=sys.stderr)
                rps.setdefault((server, target), []).append(float(result["throughput_rps"]))
                cpu.setdefault((server, target), []).append(
                    float(result["server_cpu_us_per_request"]))
        print(f"round {n} of {ROUNDS} done", file=sys.stderr)
    print(f"Closed loop, 64 connections, /plaintext, {SECONDS} s per run, median of {ROUNDS} "
          f"interleaved rounds; server on core {cpus.format_cores(server_cores)}, loadgen on "
          f"core {cpus.format_cores(generator_cores)}, one server worker.\n")
    print("| server | raw req/s | starlette req/s | starlette/raw | raw CPU µs/req | "
          "starlette CPU µs/req |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for server in SERVERS:
        raw, star = (statistics.median(rps[(server, t)]) for t in TARGETS)
        raw_cpu, star_cpu = (statistics.median(cpu[(server, t)]) for t in TARGETS)
        print(f"| {server} | {raw:,.0f} | {star:,.0f} | {star / raw:.2f} | {raw_cpu:.1f} | "
              f"{star_cpu:.1f} |")


if __name__ == "__main__":
    main()
