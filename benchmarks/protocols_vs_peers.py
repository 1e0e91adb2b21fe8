"""TLS, HTTP/2 and Unix sockets, against the peer tools, side by side in one run.

1. HTTP/1.1 over TLS: loadgen against `wrk -t1 -c64` on the same nginx (one worker, TLS on a
   certificate made for the run), closed loop, taking turns on one core, nginx on the other,
   for ROUNDS rounds (A B A B ...). The goal is a ratio loadgen/wrk of at least 0.9.
2. HTTP/2: loadgen (`--h2 --streams 10 -c 64`) against `h2load -t1 -c64 -m10` on the same
   nginx (`listen ... http2`), in cleartext with prior knowledge and over TLS, in turns on one
   core, ROUNDS rounds each. The goal is a ratio loadgen/h2load of at least 0.7.
3. A Unix socket against TCP: loadgen against two uvicorn processes serving the raw target on
   the server's core, one on a Unix socket and one on TCP, loaded in turns. The goal is the
   point of a socket: over UDS at least as many req/s as over TCP.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from loadgen import cpus
from loadgen.servers.certificates import make_certificate
from loadgen.servers.launchers import (
    ServerSpec,
    free_port,
    running_server,
    target_app,
)
from loadgen.workloads.request import Endpoint
from loadgen.workloads.tls import Tls

from _common import ensure_tools, h2load_rps, loadgen_json, nginx, wrk_rps

ROUNDS = 5
SECONDS = 5
CONNECTIONS = 64
TLS_GOAL = 0.9
STREAMS = 10
H2_GOAL = 0.7



def loadgen_rps(args: list[str], core: int) -> tuple[float, dict[str, object]]:
    result = loadgen_json([*args, "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--warmup", "1s",
                           "--cpus", str(core)])
    return float(result["throughput_rps"]), result  # type: ignore[arg-type]


def report(name: str, ratios: list[float], goal: float) -> None:
    median = statistics.median(ratios)
    verdict = "meets" if median >= goal else "misses"
    print(f"{name}: median ratio {median:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}): "
          f"{verdict} the goal of {goal}")


def tls_vs_wrk(server_cores: tuple[int, ...], core: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        certificate = make_certificate(Path(tmp))
        endpoint = Endpoint("127.0.0.1", free_port("127.0.0.1"), Tls(ca=str(certificate.ca)))
        url = f"{endpoint.url}/plaintext"
        print(f"1. TLS: nginx (1 worker) on core {cpus.format_cores(server_cores)}; generators "
              f"on core {core}; {CONNECTIONS} connections, {SECONDS} s a run, {ROUNDS} rounds "
              f"(loadgen, wrk alternating)")
        ratios = []
        with nginx(tmp, endpoint, server_cores, certificate):
            for n in range(1, ROUNDS + 1):
                ours, result = loadgen_rps([url, "--ca", str(certificate.ca)], core)
                theirs = wrk_rps(url, core, CONNECTIONS, SECONDS)
                ratios.append(ours / theirs)
                handshakes = result["tls_handshake_us"]
                cpu = result["generator"]["cpu_fraction"]  # type: ignore[index]
                print(f"   round {n}: loadgen {ours:>9,.0f} req/s   wrk {theirs:>9,.0f} req/s   "
                      f"ratio {ratios[-1]:.3f}   (loadgen's core {cpu:.0%} busy; handshakes "
                      f"p50 {handshakes['p50']:,} µs)")  # type: ignore[index]
        report("   loadgen/wrk over TLS", ratios, TLS_GOAL)


def h2_vs_h2load(server_cores: tuple[int, ...], core: int) -> None:
    for secure in (False, True):
        name = "TLS" if secure else "cleartext (h2c)"
        print(f"2. HTTP/2, {name}: nginx (1 worker) on core {cpus.format_cores(server_cores)}; "
              f"generators on core {core}; {CONNECTIONS} connections x {STREAMS} streams, "
              f"{SECONDS} s a run, {ROUNDS} rounds (loadgen, h2load alternating)")
        with tempfile.TemporaryDirectory() as tmp:
            certificate = make_certificate(Path(tmp)) if secure else None
            tls = Tls(ca=str(certificate.ca)) if certificate else None
            endpoint = Endpoint("127.0.0.1", free_port("127.0.0.1"), tls, streams=STREAMS)
            url = f"{endpoint.url}/plaintext"
            trust = ["--ca", str(certificate.ca)] if certificate else []
            ratios = []
            with nginx(tmp, endpoint, server_cores, certificate, http2=True):
                for n in range(1, ROUNDS + 1):
                    ours, result = loadgen_rps([url, "--h2", "--streams", str(STREAMS),
                                                *trust], core)
                    theirs = h2load_rps(url, core, CONNECTIONS, STREAMS, SECONDS)
                    ratios.append(ours / theirs)
                    cpu = result["generator"]["cpu_fraction"]  # type: ignore[index]
                    print(f"   round {n}: loadgen {ours:>9,.0f} req/s   h2load {theirs:>9,.0f} "
                          f"req/s   ratio {ratios[-1]:.3f}   (loadgen's core {cpu:.0%} busy)")
        report(f"   loadgen/h2load over HTTP/2, {name}", ratios, H2_GOAL)


def uds_vs_tcp(server_cores: tuple[int, ...], core: int) -> None:
    print(f"3. Unix socket: two uvicorn processes (raw target) on core "
          f"{cpus.format_cores(server_cores)}, one on a socket, one on TCP; loadgen on core "
          f"{core}; {CONNECTIONS} connections, {SECONDS} s a run, {ROUNDS} rounds (UDS, TCP "
          f"alternating)")
    with tempfile.TemporaryDirectory() as tmp:
        specs = [ServerSpec("uvicorn", target_app("raw"), cpus=server_cores, protocol=protocol,
                            log_path=Path(tmp, f"{protocol}.log")) for protocol in ("uds", "http1")]
        with running_server(specs[0]) as uds, running_server(specs[1]) as tcp:
            assert uds.endpoint.unix is not None
            ratios = []
            for n in range(1, ROUNDS + 1):
                over_uds, _ = loadgen_rps([f"{uds.endpoint.url}/plaintext", "--unix-socket",
                                           uds.endpoint.unix], core)
                over_tcp, _ = loadgen_rps([f"{tcp.endpoint.url}/plaintext"], core)
                ratios.append(over_uds / over_tcp)
                print(f"   round {n}: UDS {over_uds:>9,.0f} req/s   TCP {over_tcp:>9,.0f} req/s   "
                      f"ratio {ratios[-1]:.3f}")
    report("   UDS/TCP", ratios, 1.0)


def main() -> None:
    ensure_tools(("nginx", "nginx-light"), ("wrk", "wrk"), ("h2load", "nghttp2-client"))
    server_cores, generator_cores = cpus.split()
    tls_vs_wrk(server_cores, generator_cores[0])
    h2_vs_h2load(server_cores, generator_cores[0])
    uds_vs_tcp(server_cores, generator_cores[0])


if __name__ == "__main__":
    main()
