"""Real servers for the tests: uvicorn processes on 127.0.0.1, pinned apart from the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loadgen import cpus
from loadgen.servers import ServerProcess, ServerSpec, running_server

APPS_DIR = Path(__file__).parent / "apps"
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
