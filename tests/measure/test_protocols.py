"""TLS and Unix sockets end to end: each of the four servers started by loadgen over each, and
loaded by the engine; every TLS handshake timed, reconnects' too, resumed only when asked; and
every bad input one line, exit 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadgen.measure.runner import Placement
from loadgen.measure.trial import run_served, run_workload
from loadgen.results.run import RunResult
from loadgen.servers.launchers import ServerProcess, ServerSpec, running_server, target_app
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.request import Endpoint
from loadgen.workloads.scenario import load_scenario
from loadgen.workloads.tls import Tls
from loadgen.workloads.workload import ScenarioWorkload, UrlWorkload
from tests.conftest import APPS_DIR, GENERATOR_CORES, SERVER_CORES, loadgen

CONNECTIONS = 4
PROFILE = LoadProfile(duration_s=0.5, warmup_s=0.2, connections=CONNECTIONS)
PLACEMENT = Placement(GENERATOR_CORES, SERVER_CORES)


def served(tmp_path: Path, server: str, protocol: str, **spec: object) -> RunResult:
    return run_served(ServerSpec(server, target_app("raw"), cpus=SERVER_CORES, protocol=protocol,
                                 log_path=tmp_path / f"{server}.log", **spec),  # type: ignore[arg-type]
                      "raw", UrlWorkload("/plaintext"), PROFILE, PLACEMENT)


@pytest.mark.parametrize("protocol", ["https", "uds"])
@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian", "daphne"])
def test_each_server_serves_each_protocol(tmp_path: Path, server: str, protocol: str) -> None:
    result = served(tmp_path, server, protocol)
    assert result.valid and result.requests > 0, result.invalid_reasons()
    handshakes = result.handshakes()
    if protocol == "https":
        assert result.target.startswith(f"raw on {server} https://127.0.0.1:")
        # Every connection shook hands once, checked against the certificate's authority.
        assert handshakes is not None and handshakes.count == CONNECTIONS
        assert handshakes.resumed == 0 and 0 < handshakes.p50 <= handshakes.max
    else:
        assert " via /" in result.target and result.target.endswith("server.sock /plaintext")
        assert handshakes is None


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("tls")
    with running_server(ServerSpec("uvicorn", target_app("raw"), cpus=SERVER_CORES,
                                   protocol="https", log_path=folder / "server.log")) as server:
        yield server


CLOSING = load_scenario(str(APPS_DIR / "closing_scenario.py"))


@pytest.mark.parametrize("resume", [False, True])
def test_reconnects_shake_hands_again_and_resume_only_when_asked(
        tls_server: ServerProcess, resume: bool) -> None:
    endpoint = tls_server.endpoint
    assert endpoint.tls is not None
    asked = Endpoint(endpoint.host, endpoint.port, Tls(ca=endpoint.tls.ca, resume=resume))
    result = run_workload(asked, ScenarioWorkload(CLOSING, {}), PROFILE, PLACEMENT)
    handshakes = result.handshakes()
    assert result.valid and result.requests > CONNECTIONS, result.invalid_reasons()
    reconnects = sum(w.reconnects for w in result.workers)
    assert not result.total.errors  # so every reconnect succeeded, and shook hands
    assert handshakes is not None and handshakes.count == CONNECTIONS + reconnects
    if resume:  # the first connections had no session to resume; most later ones do
        assert handshakes.resumed > reconnects // 2
    else:
        assert handshakes.resumed == 0


def test_small_writes_over_tls_are_not_called_pushback(tls_server: ServerProcess) -> None:
    """A write is judged blocked when it does not fit the socket at once, over TLS as over TCP.
    Small requests to a server that reads them always fit: none may count. Under uvloop's TLS
    layer, which encrypted each write on the loop's next turn, nearly every one had."""
    endpoint = tls_server.endpoint
    result = run_workload(endpoint, UrlWorkload("/plaintext"), PROFILE, PLACEMENT)
    check = result.check_generator()
    assert result.valid and result.requests > 0, result.invalid_reasons()
    assert check.write_blocked == 0
    assert "server pushback" not in check.causes


def _fails_in_one_line(args: list[str], message: str) -> None:
    done = loadgen("run", *args, "-d", "0.5s", "--warmup", "0s", "-c", "2")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"loadgen: error: {message}"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("scenario", [[], ["--scenario", "routing"]])
def test_an_untrusted_certificate_is_one_line(tls_server: ServerProcess,
                                              scenario: list[str]) -> None:
    # Without --scenario the engine's connect finds it; with one, the preflight does.
    _fails_in_one_line([f"{tls_server.endpoint.url}/plaintext", *scenario],
                       f"TLS: {tls_server.endpoint.authority}'s certificate is not trusted "
                       f"(unable to get local issuer certificate); give --ca FILE")


def test_https_to_a_plain_server_is_one_line(raw_server: ServerProcess) -> None:
    url = f"https://{raw_server.endpoint.authority}/plaintext"
    _fails_in_one_line([url, "--insecure"], f"TLS handshake with {raw_server.endpoint.authority}"
                                            f" failed: it did not answer in TLS (plain HTTP?)")


def test_the_authority_of_a_server_loadgen_did_not_start(tls_server: ServerProcess) -> None:
    assert tls_server.endpoint.tls is not None and tls_server.endpoint.tls.ca is not None
    url = f"https://localhost:{tls_server.endpoint.port}/plaintext"  # the certificate's name
    done = loadgen("run", url, "--ca", tls_server.endpoint.tls.ca, "-d", "0.5s", "-c", "2")
    assert done.returncode == 0, done.stderr
    assert "tls          2 handshakes (0 resumed)" in done.stdout


def test_bad_unix_sockets_are_one_line(tmp_path: Path) -> None:
    _fails_in_one_line(["http://localhost/", "--unix-socket", str(tmp_path / "none.sock")],
                       f"--unix-socket {tmp_path / 'none.sock'}: no such file")
    (tmp_path / "file").write_text("")
    _fails_in_one_line(["http://localhost/", "--unix-socket", str(tmp_path / "file")],
                       f"--unix-socket {tmp_path / 'file'}: not a socket")
    with socket.socket(socket.AF_UNIX) as bound:  # a socket nobody accepts on
        bound.bind(str(tmp_path / "idle.sock"))
        _fails_in_one_line(["http://localhost/", "--unix-socket", str(tmp_path / "idle.sock")],
                           f"cannot connect to {tmp_path / 'idle.sock'}: Connection refused")


@pytest.mark.parametrize(("args", "message"), [
    (["http://localhost/", "--insecure"], "--ca, --insecure and --tls-resume go with https://"),
    (["https://localhost/", "--ca", "/no/such.pem"], "--ca /no/such.pem: no such file"),
    (["https://localhost/", "--ca", __file__, "--insecure"], "--ca and --insecure contradict"),
    (["/", "--target", "raw", "--insecure"], "with --target, loadgen makes the certificate"),
    (["/", "--target", "raw", "--tls-resume"], "--tls-resume goes with --protocol https"),
    (["http://localhost/", "--protocol", "https"], "--protocol goes with --target"),
])
def test_tls_options_that_do_not_fit_are_one_line(args: list[str], message: str) -> None:
    _fails_in_one_line(args, message)
