"""Servers that misbehave, each one way (tests/apps/faults.py): the run goes on, counts what
went wrong as errors of their kind, writes its JSON and says in its exit code that nothing
succeeded. Nothing here asserts a time."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import APPS_DIR, loadgen, script_server

CONNECTIONS = 16


@pytest.fixture
def fault_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a faults.py server in the mode the test is parametrized with."""
    with script_server(APPS_DIR / "faults.py", request.param) as url:
        yield url


def run_against(url: str, out: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = loadgen("run", url, "--rate", "50", "-d", "1s", "--warmup", "0s", "--timeout",
                   "0.3s", "-c", str(CONNECTIONS), "--json", str(out))
    return done, json.loads(out.read_text())


@pytest.mark.parametrize(("fault_server", "error"), [
    ("silent", "timeout"),  # no answer within --timeout
    ("chunked", "timeout"),  # an answer that never ends
    ("garbage", "parse"),  # not HTTP
    ("short", "reset"),  # closed before the body it promised
], indirect=["fault_server"])
def test_a_faulty_server_is_counted_and_nothing_succeeded_exits_1(
        fault_server: str, error: str, tmp_path: Path) -> None:
    done, result = run_against(fault_server, tmp_path / "run.json")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "loadgen: error: no request succeeded"
    assert "Traceback" not in done.stdout + done.stderr
    assert result["errors"].get(error, 0) > 0, result["errors"]
    assert result["valid"] is False


@pytest.mark.parametrize("fault_server", ["close"], indirect=True)
def test_a_server_that_closes_at_once_gets_backoff_not_a_connect_storm(
        fault_server: str, tmp_path: Path) -> None:
    done, result = run_against(fault_server, tmp_path / "run.json")
    assert done.returncode == 1, done.stderr
    # Without a backoff, 64 connections made 34,800 attempts in 2 s against such a server.
    # With one (10 ms doubling to 1 s), a connection can try about 10 times in the 1.3 s the
    # run and its drain last: far fewer however slow the host.
    attempts = result["generator"]["reconnects"]
    assert 0 < attempts <= CONNECTIONS * 12
    assert result["requests"] == 0


@pytest.mark.parametrize("fault_server", ["silent"], indirect=True)
def test_a_tls_handshake_nobody_answers_is_one_line(fault_server: str) -> None:
    url = fault_server.replace("http://", "https://")
    done = loadgen("run", url, "--insecure", "-d", "1s", "--timeout", "0.5s", "-c", "2")
    assert done.returncode == 2, done.stdout
    host = url.split("/")[2]
    assert done.stderr == f"loadgen: error: TLS handshake with {host} took over 0.5 s\n"
