"""Real servers for the tests: uvicorn processes on 127.0.0.1, pinned apart from the tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loadgen import cpus
from loadgen.campaigns.bench import run_bench
from loadgen.campaigns.benchfile import load_bench
from loadgen.measure.runner import Placement
from loadgen.results.store import RunStore
from loadgen.servers.launchers import ServerProcess, ServerSpec, free_port, running_server
from loadgen.servers.usage import generator_connected

APPS_DIR = Path(__file__).parent / "apps"
DATA_DIR = Path(__file__).parent / "data"  # reference files of every format loadgen writes
ROOT = Path(__file__).parent.parent
# The command as a user runs it, in a process of its own.
LOADGEN = [sys.executable, "-m", "loadgen"]
SERVER_CORES, GENERATOR_CORES = cpus.split()

StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start a server (stopped for sure at the end of the test): raw target or a test app."""
    started: list[ServerProcess] = []

    def start(app: str = "raw_app:app", app_dir: Path | None = None,
              server: str = "uvicorn") -> ServerProcess:
        spec = ServerSpec(server, app, cpus=SERVER_CORES, log_path=tmp_path / "server.log",
                          **({"app_dir": app_dir} if app_dir else {}))
        process = running_server(spec)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def raw_server(start_server: StartServer) -> ServerProcess:
    return start_server()


@pytest.fixture
def edge_server(start_server: StartServer) -> ServerProcess:
    return start_server("edge:app", APPS_DIR)


def wait_for_load(server: ServerProcess, timeout: float = 60) -> None:
    """Wait until a generator has connected to `server`: its load is about to start. A fixed
    sleep instead would guess how long a loadgen process takes to start on this host."""
    assert server.process is not None
    wait_for_load_under(server.process.pid, timeout)


def wait_for_load_under(pid: int, timeout: float = 60) -> None:
    """Wait until a server in the process tree of `pid` (itself, or one a bench started) has
    a generator connected to a port it listens on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if generator_connected(pid):
            return
        # Another process's sockets give no event to wait on: the condition is polled, with
        # the deadline above, rather than a sleep guessing how long the start takes.
        time.sleep(0.05)
    raise AssertionError(f"no generator connected to a server within {timeout:g} s")


def loadgen(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LOADGEN, *args], capture_output=True, text=True, timeout=timeout)


CLOSED_PORT = f"http://127.0.0.1:{free_port('127.0.0.1')}/"  # nothing listens there


@contextlib.contextmanager
def script_server(script: Path, mode: str) -> Iterator[str]:
    """The URL (path /plaintext) of a test server `script MODE` that prints its port once it
    listens, on the server's cores, killed at the end."""
    proc = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE,
                            text=True)
    try:
        os.sched_setaffinity(proc.pid, SERVER_CORES)
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}/plaintext"
    finally:
        proc.kill()
        proc.communicate()


def run_bench_file(folder: Path, text: str) -> tuple[RunStore, tuple[int, bool]]:
    """The bench file `text`, written into `folder` and run for real into folder/results, the
    servers and the generator on their cores: the store, and what run_bench returned."""
    (folder / "bench.toml").write_text(text)
    store = RunStore.new(folder / "results")
    placement = Placement(GENERATOR_CORES, SERVER_CORES)
    return store, run_bench(load_bench(folder / "bench.toml"), store, placement)
