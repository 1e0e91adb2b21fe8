"""Server processes: started for real, ready when they answer, gone when stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from loadgen.errors import LoadgenError
from loadgen.servers.launchers import ServerSpec, running_server
from tests.conftest import APPS_DIR, SERVER_CORES


def test_server_is_pinned_answers_and_leaves_nothing_behind(tmp_path: Path) -> None:
    server = running_server(ServerSpec("uvicorn", "raw_app:app", cpus=SERVER_CORES,
                                       log_path=tmp_path / "log"))
    with server:
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        assert tuple(process.cpu_affinity()) == SERVER_CORES
        group = [process, *process.children(recursive=True)]
    _, alive = psutil.wait_procs(group, timeout=5)
    assert not alive


def test_a_server_that_fails_to_start_quotes_its_log(tmp_path: Path) -> None:
    server = running_server(ServerSpec("uvicorn", "no_such_module:app", app_dir=APPS_DIR,
                                       log_path=tmp_path / "log"))
    with pytest.raises(LoadgenError, match=r"uvicorn exited during start-up.*no_such_module"):
        server.start()
    assert server.process is None


def _server_under(launcher: psutil.Process, timeout: float = 20) -> psutil.Process:
    """The server process a loadgen process started (the child that is not its own Python
    worker), once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in launcher.children():
            if "-m" in child.cmdline() and "uvicorn" in child.cmdline():
                return child
        time.sleep(0.1)
    raise AssertionError("the server did not start")


def _wait_for_workers(server: psutil.Process, count: int, timeout: float = 30) -> None:
    """Wait until the server has started `count` worker processes of its own."""
    deadline = time.monotonic() + timeout
    while len(server.children()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not start {count} workers")
        time.sleep(0.05)


def _gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("command", [
    ["serve", "raw", "--workers", "2", "--port", "0"],
    ["run", "--target", "raw", "--rate", "100", "-d", "30s", "--warmup", "0s"],
])
def test_no_server_survives_a_killed_launcher(command: list[str]) -> None:
    launcher = subprocess.Popen([sys.executable, "-m", "loadgen", *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parent = psutil.Process(launcher.pid)
        server = _server_under(parent)
        _wait_for_workers(server, 2 if "--workers" in command else 0)
        tree = [server, *server.children(recursive=True)]
        launcher.kill()  # SIGKILL: no cleanup of its own can run
        launcher.wait()
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert all(_gone(p) for p in alive), f"left running: {alive}"
    finally:
        launcher.kill()


def test_serve_stops_with_ctrl_c_and_takes_another_port_if_needed() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with subprocess.Popen([sys.executable, "-m", "loadgen", "serve", "raw", "--port",
                               str(port)], stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert f"port {port} is taken; using" in first
            url = proc.stdout.readline().split(" at ")[1].split()[0]
            with httpx.Client() as client:
                assert client.get(url + "plaintext").text == "Hello, world!"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0


def test_a_server_that_never_gets_ready_times_out_with_its_log(tmp_path: Path) -> None:
    server = running_server(ServerSpec("uvicorn", "never_ready:app", app_dir=APPS_DIR,
                                       log_path=tmp_path / "log", ready_timeout_s=2))
    started = time.monotonic()
    with pytest.raises(LoadgenError, match="uvicorn was not ready within 2 s"):
        server.start()
    assert time.monotonic() - started < 10
    assert server.process is None


def test_daphne_takes_no_workers() -> None:
    with pytest.raises(LoadgenError, match="daphne runs a single process"):
        running_server(ServerSpec("daphne", "raw_app:app", workers=2))
