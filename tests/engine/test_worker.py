"""The engine against real uvicorn processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from loadgen.engine.plan import IntervalSink
from loadgen.measure.runner import Placement, run_load
from loadgen.results import histogram
from loadgen.results.measured import Interval
from loadgen.results.run import RunResult
from loadgen.results.selfcheck import LATE_MIN
from loadgen.servers.launchers import ServerProcess
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.request import Endpoint, RequestTemplate, encode_request, get_template
from tests.conftest import GENERATOR_CORES


def load(server: ServerProcess, path: str, profile: LoadProfile, **kwargs: object) -> RunResult:
    endpoint = server.endpoint
    return run_load(endpoint, (get_template(endpoint, path),), profile,
                    Placement(GENERATOR_CORES), **kwargs)  # type: ignore[arg-type]


def test_closed_loop_counts_every_response(raw_server: ServerProcess) -> None:
    result = load(raw_server, "/plaintext", LoadProfile(connections=8, duration_s=1.0,
                                                        warmup_s=0.2))
    assert result.requests > 500
    assert result.total.status == {200: result.requests}
    assert not result.total.errors
    # Closed loop sends when the last response is complete: no lag, corrected = uncorrected.
    assert result.total.corrected.equals(result.total.uncorrected)
    assert result.total.send_lag.get_max_value() == 0
    assert sum(i.requests for w in result.workers for i in w.intervals) == result.requests


@pytest.mark.parametrize("path", ["/chunked", "/status/404", "/status/503"])
def test_chunked_and_error_statuses_are_parsed(edge_server: ServerProcess, path: str) -> None:
    result = load(edge_server, path, LoadProfile(connections=4, duration_s=0.5, warmup_s=0.1))
    expected = 200 if path == "/chunked" else int(path.rsplit("/", 1)[1])
    assert result.requests > 100
    assert result.total.status == {expected: result.requests}
    assert not result.total.errors


def test_connection_close_means_reconnect(edge_server: ServerProcess) -> None:
    result = load(edge_server, "/close", LoadProfile(connections=4, duration_s=0.5,
                                                     warmup_s=0.1))
    assert result.requests > 50
    assert result.total.status == {200: result.requests}
    assert not result.total.errors
    reconnects = sum(w.reconnects for w in result.workers)
    assert reconnects >= result.requests, "one new connection per response"


def test_open_loop_sends_exactly_the_schedule(raw_server: ServerProcess) -> None:
    """The schedule decides how many requests a window holds, whatever the machine does; how
    close to their instants they went is benchmarks/selfcheck.py's to measure."""
    result = load(raw_server, "/plaintext", LoadProfile.constant(2000, 5.0, warmup_s=1.0))
    [worker] = result.workers
    assert worker.intended == 10_000
    assert worker.sent + worker.unsent == worker.intended
    assert result.requests == worker.sent and not result.total.errors


def test_a_stalled_server_shows_in_corrected_latency_only(raw_server: ServerProcess) -> None:
    """BENCHMARKING.md's check: SIGSTOP the server for 1 s in a 6 s run at 1,000 req/s."""
    assert raw_server.process is not None
    pid = raw_server.process.pid
    stop = threading.Timer(1.0 + 2.0, os.kill, (pid, signal.SIGSTOP))  # warm-up + 2 s
    resume = threading.Timer(1.0 + 3.0, os.kill, (pid, signal.SIGCONT))
    stop.start()
    resume.start()
    try:
        # Few connections, so that the requests caught in flight stay under 1% of the run.
        result = load(raw_server, "/plaintext",
                      LoadProfile.constant(1000, 6.0, connections=16, warmup_s=1.0))
    finally:
        stop.cancel()
        resume.cancel()
        os.kill(pid, signal.SIGCONT)
    corrected = histogram.summary(result.total.corrected)
    uncorrected = histogram.summary(result.total.uncorrected)
    assert result.requests == pytest.approx(6000, rel=0.02)
    assert corrected["p99"] >= 500_000
    assert corrected["p90"] >= 200_000
    assert uncorrected["p99"] < corrected["p99"] / 10
    assert result.check_generator().waited_fraction > 0.1, "the queue was the server's doing"


def test_processes_merge_exactly(raw_server: ServerProcess) -> None:
    result = load(raw_server, "/plaintext",
                  LoadProfile.constant(1000, 2.0, connections=8, warmup_s=0.5, processes=2))
    assert len(result.workers) == 2 and not result.missing
    counts = [sum(k.status.values()) for w in result.workers for k in w.kinds.values()]
    assert all(counts) and sum(counts) == result.requests
    assert result.requests == pytest.approx(2000, rel=0.02)
    merged = histogram.merge(k.corrected for w in result.workers for k in w.kinds.values())
    assert list(merged.counts) == list(result.total.corrected.counts)
    assert {w.cpus for w in result.workers} == {(c,) for c in GENERATOR_CORES[:2]} or \
        len(GENERATOR_CORES) == 1


def _blocked(_: Interval) -> None:
    time.sleep(0.06)  # a blocking call in the generator's own loop: a thread asleep


def _busy(_: Interval) -> None:
    until = time.perf_counter() + 0.06
    while time.perf_counter() < until:  # CPU work in the loop: the thread runs, holding the GIL
        pass


@pytest.mark.parametrize("hook", [_blocked, _busy])
def test_a_generator_that_falls_behind_says_so(raw_server: ServerProcess,
                                               hook: IntervalSink) -> None:
    """Hold the generator's own loop for 60 ms every second at 1,000 req/s: about 60 sends a
    second are due with connections free and go out late. The self-check must blame the
    generator, and must not take its being held for a pause of the machine."""
    result = load(raw_server, "/plaintext", LoadProfile.constant(1000, 3.0, warmup_s=0.5),
                  on_interval=hook)
    check = result.check_generator()
    assert check.bound
    assert check.late >= LATE_MIN
    assert "late although connections were free" in check.reasons[0]
    assert "generator" in check.causes
    # The watchdog kept running through a blocked loop, or waited for the GIL of a busy one.
    assert not any(length >= 0.03 for _, length in check.pauses)


def test_a_pause_of_the_whole_generator_is_a_pause_not_its_fault(
        raw_server: ServerProcess) -> None:
    """SIGSTOP the whole generator process (this one) for at least 300 ms in its second
    second: every thread stops, as in a pause of the machine. The pause is reported with its
    length and second, the sends it delayed are put down to it, and the trial is kept."""
    resumer: list[subprocess.Popen[bytes]] = []

    def stop_me(interval: Interval) -> None:
        if interval.index == 1:
            resumer.append(subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -CONT {os.getpid()}"]))
            os.kill(os.getpid(), signal.SIGSTOP)

    try:
        result = load(raw_server, "/plaintext", LoadProfile.constant(500, 4.0, warmup_s=0.5),
                      on_interval=stop_me)
    finally:
        for process in resumer:
            process.wait()
    check = result.check_generator()
    start, longest = max(check.pauses, key=lambda p: p[1])
    assert longest >= 0.25, "held still for at least the 0.3 s the resumer slept"
    assert 1.5 <= start < 3.0, "in the second after the one that stopped it"
    assert check.late_in_pause > 0, "the sends due in the pause went late, and it was the pause"
    assert not check.bound, check.reasons
    assert "machine pause" in check.causes
    series = result.to_json()["series"]
    assert max(series, key=lambda s: s["paused_ms"])["second"] == int(start)


def test_a_server_that_does_not_read_is_pushback() -> None:
    """A server that accepts connections and never reads, with small socket buffers: a 16 MB
    upload cannot be written. The writes that found the socket full are counted, and the
    self-check names the server's pushback, not the generator."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    endpoint = Endpoint("127.0.0.1", listener.getsockname()[1])
    upload = RequestTemplate("POST /upload",
                             encode_request(endpoint, "POST", "/upload", body=b"x" * 2**24))
    try:
        result = run_load(endpoint, (upload,), LoadProfile.constant(
            20, 2.0, connections=4, warmup_s=0.2, timeout_s=0.5), Placement(GENERATOR_CORES))
    finally:
        stop.set()
        acceptor.join()
        for conn in (*accepted, listener):
            conn.close()
    check = result.check_generator()
    assert check.write_blocked > 0
    assert "server pushback" in check.causes
    assert not check.bound, check.reasons
    assert result.total.errors["timeout"] > 0, "no answer came: every request timed out"


def test_a_server_that_dies_mid_run_leaves_a_result(raw_server: ServerProcess) -> None:
    killer = threading.Timer(1.5, raw_server.stop)
    killer.start()
    try:
        result = load(raw_server, "/plaintext",
                      LoadProfile.constant(500, 3.0, warmup_s=0.5, timeout_s=1.0))
    finally:
        killer.cancel()
    assert 200 < result.requests < 1500
    assert result.total.errors, "failed connections are counted"
    assert result.total.errors.get("connect", 0) > 0
    assert sum(w.unsent for w in result.workers) > 0, "what could not be sent is said"
