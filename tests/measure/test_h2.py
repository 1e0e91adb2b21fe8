"""HTTP/2 end to end: the servers that serve it, over TLS and cleartext; many streams on one
connection, all answered and counted; what a server's resets and GOAWAYs count as; the frames
checked against hpack as the reference; and every bad input one line, exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hpack import Decoder, Encoder

from loadgen.engine import h2frames
from loadgen.measure.runner import Placement, run_load
from loadgen.measure.trial import run_served
from loadgen.results.run import RunResult
from loadgen.servers.launchers import ServerProcess, ServerSpec, running_server, target_app
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.request import Endpoint, encode_request, get_template
from loadgen.workloads.scenario import load_scenario
from loadgen.workloads.workload import ScenarioWorkload, UrlWorkload, http_client
from tests.conftest import APPS_DIR, GENERATOR_CORES, SERVER_CORES, loadgen, script_server

PLACEMENT = Placement(GENERATOR_CORES, SERVER_CORES)


def served(tmp_path: Path, server: str, protocol: str, streams: int,
           profile: LoadProfile) -> RunResult:
    spec = ServerSpec(server, target_app("raw"), cpus=SERVER_CORES, protocol=protocol,
                      streams=streams, log_path=tmp_path / f"{server}.log")
    return run_served(spec, "raw", UrlWorkload("/plaintext"), profile, PLACEMENT)


@pytest.mark.parametrize(("server", "protocol"), [
    ("hypercorn", "h2"), ("hypercorn", "h2c"), ("granian", "h2"), ("granian", "h2c"),
    ("daphne", "h2")])
def test_each_server_that_serves_http2_is_loaded_over_it(tmp_path: Path, server: str,
                                                         protocol: str) -> None:
    result = served(tmp_path, server, protocol, 4,
                    LoadProfile(duration_s=0.5, warmup_s=0.2, connections=2))
    assert result.valid and result.requests > 0, result.invalid_reasons()
    assert "(HTTP/2, 4 streams a connection)" in result.target
    handshakes = result.handshakes()
    assert (handshakes is not None and handshakes.count == 2) == (protocol == "h2")


def test_open_loop_over_http2_sends_the_schedule_and_counts_add_up(tmp_path: Path) -> None:
    rate, seconds = 400, 1.0
    result = served(tmp_path, "granian", "h2c", 8,
                    LoadProfile.constant(rate, seconds, connections=1, warmup_s=0.2))
    assert result.requests == rate * seconds  # every request of the schedule, answered
    assert result.total.status == {200: result.requests} and not result.total.errors
    kinds = result.kinds["GET /plaintext"]
    assert kinds.corrected.get_total_count() == kinds.uncorrected.get_total_count() == 400


@pytest.fixture(scope="module")
def concurrency(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    spec = ServerSpec("hypercorn", "concurrency_app:app", app_dir=APPS_DIR, cpus=SERVER_CORES,
                      protocol="h2c", streams=8,
                      log_path=tmp_path_factory.mktemp("h2") / "server.log")
    with running_server(spec) as server:
        yield server


def test_many_streams_share_one_connection_at_once(concurrency: ServerProcess) -> None:
    endpoint = concurrency.endpoint
    result = run_load(endpoint, (get_template(endpoint, "/slow"),),
                      LoadProfile(duration_s=0.5, warmup_s=0.1, connections=1), PLACEMENT)
    assert result.valid and not result.total.errors
    # The server saw all 8 streams in /slow at once, and all of them on one connection.
    with http_client(Endpoint(endpoint.host, endpoint.port), 5) as client:
        seen = client.get(f"{endpoint.url}/seen").json()
    assert seen == {"most": 8, "connections": 1}


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an h2faults.py server in the mode the test is parametrized with."""
    with script_server(APPS_DIR / "h2faults.py", request.param) as url:
        yield url


@pytest.mark.parametrize(("faulty", "error"), [("rst", "rst_stream"),
                                               ("refuse", "refused_stream")], indirect=["faulty"])
def test_streams_the_server_resets_count_as_their_own_errors(faulty: str, error: str,
                                                             tmp_path: Path) -> None:
    done = loadgen("run", faulty, "--h2", "--streams", "4", "-c", "2", "-d", "0.5s",
                   "--warmup", "0s", "--json", str(tmp_path / "run.json"))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    result = json.loads((tmp_path / "run.json").read_text())
    assert set(result["errors"]) == {error} and result["errors"][error] > 8
    assert result["requests"] == 0 and result["generator"]["reconnects"] == 0  # session kept


@pytest.mark.parametrize("faulty", ["goaway"], indirect=True)
def test_a_goaway_is_counted_and_the_session_made_again(faulty: str, tmp_path: Path) -> None:
    done = loadgen("run", faulty, "--h2", "--streams", "4", "-c", "2", "-d", "0.5s",
                   "--warmup", "0s", "--json", str(tmp_path / "run.json"))
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "run.json").read_text())
    # Each session: one answer, the other three streams cut off by the GOAWAY, a new session.
    assert result["requests"] > 4 and result["errors"]["goaway"] >= result["requests"]
    assert result["generator"]["reconnects"] > 0


def test_a_request_in_frames_decodes_as_hpack_reads_it() -> None:
    data = encode_request(Endpoint("h", 8), "POST", "/up?x=1", (("Content-Type", "text/plain"),
                                                               ("Connection", "keep-alive")),
                          b"body")
    request = h2frames.from_http1(data, "https")
    assert Decoder().decode(request.block) == [
        (":method", "POST"), (":scheme", "https"), (":authority", "h:8"), (":path", "/up?x=1"),
        ("content-type", "text/plain"), ("content-length", "4")]
    frame = request.headers(7)
    assert frame[:9] == len(request.block).to_bytes(3, "big") + bytes([1, 4]) + \
        (7).to_bytes(4, "big")  # HEADERS, END_HEADERS but not END_STREAM: a body follows


@pytest.mark.parametrize("status", [200, 204, 206, 304, 400, 404, 500, 201, 302, 503])
def test_a_status_reads_the_same_off_the_fast_path_and_hpack(status: int) -> None:
    encoder = Encoder()
    encoder.header_table_size = 0  # as the client's settings ask of the server
    decoder = h2frames.stateless_decoder()
    for _ in range(2):  # the first block carries the table size update, the second not
        block = encoder.encode([(":status", str(status)), ("content-length", "2")])
        assert h2frames.status_of(block, decoder) == status


def test_http2_options_that_do_not_fit_are_one_line(raw_server: ServerProcess) -> None:
    for args, message in [
        ([raw_server.endpoint.url + "/", "--h2", "-d", "1s", "--timeout", "1s"],
         f"cannot connect to {raw_server.endpoint.authority}: the server did not answer in "
         f"HTTP/2 (h2c: with prior knowledge)"),
        ([raw_server.endpoint.url + "/", "--streams", "4"], "--streams goes with --h2"),
        ([raw_server.endpoint.url + "/", "--h2", "--streams", "0"], "--streams must be at least"),
        (["/", "--target", "raw", "--h2"], "with --target, give --protocol h2"),
        (["/", "--target", "raw", "--protocol", "h2"], "uvicorn does not serve h2"),
    ]:
        done = loadgen("run", *args)
        assert done.returncode == 2, (args, done.stdout)
        assert done.stderr.startswith(f"loadgen: error: {message}"), done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_http2_by_alpn_to_a_server_without_it_is_one_line(tmp_path: Path) -> None:
    spec = ServerSpec("uvicorn", target_app("raw"), cpus=SERVER_CORES, protocol="https",
                      log_path=tmp_path / "server.log")
    with running_server(spec) as server:
        assert server.endpoint.tls is not None and server.endpoint.tls.ca is not None
        done = loadgen("run", f"{server.endpoint.url}/", "--h2", "--ca", server.endpoint.tls.ca,
                       "-d", "1s")
    assert done.returncode == 2
    assert done.stderr == (f"loadgen: error: cannot connect to {server.endpoint.authority}: the "
                           f"server does not speak HTTP/2 (by ALPN it chose nothing)\n")


def test_the_preflight_frames_a_request_without_a_body_as_the_engine_does(tmp_path: Path) -> None:
    # Routing's POST has no body. Sent as httpx sends it (HEADERS, then an empty DATA frame),
    # hypercorn dropped the connection once it had answered (pgjones/hypercorn#329), and the
    # preflight failed on the next request; the engine ends such a stream on its HEADERS.
    scenario = load_scenario("routing")
    spec = ServerSpec("hypercorn", target_app("starlette"), cpus=SERVER_CORES, protocol="h2c",
                      streams=2, log_path=tmp_path / "server.log")
    result = run_served(spec, "starlette", ScenarioWorkload(scenario, scenario.resolve({}),
                                                            variants=2),
                        LoadProfile(duration_s=0.5, warmup_s=0.1, connections=2), PLACEMENT)
    assert result.valid, result.invalid_reasons()
    assert set(result.kinds["405 POST to last route"].status) == {405}


def test_request_bodies_keep_to_the_servers_windows(tmp_path: Path) -> None:
    # multipart's forms are up to 1 MiB, hypercorn's stream window 64 KiB: each body waits
    # for WINDOW_UPDATEs, and every part arrives as sent (the sampled checks' digests).
    scenario = load_scenario("multipart")
    spec = ServerSpec("hypercorn", target_app("starlette"), cpus=SERVER_CORES, protocol="h2c",
                      streams=2, log_path=tmp_path / "server.log")
    result = run_served(spec, "starlette", ScenarioWorkload(scenario, scenario.resolve({}),
                                                            variants=2),
                        LoadProfile(duration_s=1.0, warmup_s=0.2, connections=2), PLACEMENT,
                        check_every=1)
    assert result.valid and not result.total.errors, result.invalid_reasons()
    assert sum(k.checked for k in result.kinds.values()) == result.requests > 0
