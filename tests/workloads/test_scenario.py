"""Scenarios: loading, parameters, encoding, the preflight, and sampled checks under load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement
from loadgen.measure.trial import run_workload
from loadgen.servers.launchers import ServerProcess, ServerSpec, running_server
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.request import Endpoint
from loadgen.workloads.scenario import builtin_names, load_scenario
from loadgen.workloads.variants import build_variants
from loadgen.workloads.workload import ScenarioWorkload, preflight
from tests.conftest import GENERATOR_CORES, SERVER_CORES

ENDPOINT = Endpoint("127.0.0.1", 8000)


def workload(name: str, **params: str) -> ScenarioWorkload:
    scenario = load_scenario(name)
    return ScenarioWorkload(scenario, scenario.resolve(params), variants=2)


@pytest.mark.parametrize("target", ["starlette", "fastapi"])
@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_scenario_passes_its_preflight(name: str, target: str,
                                                     tmp_path: Path) -> None:
    chosen = workload(name, routes="30") if name in ("routing", "rest_mix") else workload(name)
    spec = ServerSpec("uvicorn", f"{target}_app:app", cpus=SERVER_CORES,
                      env=chosen.target_env, log_path=tmp_path / "log")
    with running_server(spec) as server:
        prepared = chosen.prepare(server.endpoint)
        assert prepared.variants
        preflight(prepared.variants, server.endpoint, timeout_s=30)


def test_a_wrong_check_fails_the_preflight_readably(raw_server: ServerProcess,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "wrong.py"
    path.write_text(
        "from loadgen.workloads.scenario import Check, Request\n"
        "def requests(params):\n"
        "    return [Request('greeting', '/plaintext', check=Check(contains=b'Goodbye'))]\n")
    prepared = ScenarioWorkload(load_scenario(str(path)), {}).prepare(raw_server.endpoint)
    with pytest.raises(LoadgenError) as caught:
        preflight(prepared.variants, raw_server.endpoint, timeout_s=5)
    message = str(caught.value)
    assert "preflight: request 'greeting' (GET /plaintext): body lacks b'Goodbye'" in message
    assert "Hello, world!" in message, "what came back is quoted"


def test_form_variants_carry_the_digest_of_their_own_bytes() -> None:
    chosen = workload("multipart", fields="10", files="3")
    requests = chosen.scenario.requests(chosen.values)
    built = build_variants(ENDPOINT, requests, count=2, seed=1)
    by_name = {group[0].name: group for group in built}
    fields = by_name["many fields"][0].expect.json
    assert fields is not None and (fields["fields"], fields["files"]) == (10, 0)
    files = by_name["many files"]
    assert [v.expect.json["files"] for v in files] == [3, 3]  # type: ignore[index]
    assert files[0].expect.json != files[1].expect.json, "random content differs by variant"
    preamble = by_name["preamble and epilogue"][0].request
    assert preamble.content.startswith(b"\r\n" * 100)
    assert int(preamble.headers["content-length"]) == len(preamble.content)


def test_parameters_are_typed_and_checked() -> None:
    routing = load_scenario("routing")
    assert routing.resolve({"routes": "500"})["routes"] == 500
    assert dict(routing.target_env(routing.resolve({"hosts": "3"})))["HOSTS"] == "3"
    with pytest.raises(LoadgenError, match="unknown parameter 'route' for scenario routing"):
        routing.resolve({"route": "5"})
    with pytest.raises(LoadgenError, match="takes int values, not 'many'"):
        routing.resolve({"routes": "many"})


def test_weights_shape_the_mix(raw_server: ServerProcess, tmp_path: Path) -> None:
    path = tmp_path / "weighted.py"
    path.write_text(
        "from loadgen.workloads.scenario import Check, Request\n"
        "def requests(params):\n"
        "    return [Request('heavy', '/plaintext', weight=3),\n"
        "            Request('light', '/json', weight=1)]\n")
    result = run_workload(raw_server.endpoint, ScenarioWorkload(load_scenario(str(path)), {}),
                          LoadProfile.constant(1000, 2.0, warmup_s=0.2),
                          Placement(GENERATOR_CORES))
    heavy, light = result.kinds["heavy"].requests, result.kinds["light"].requests
    assert heavy + light == result.requests
    assert heavy / light == pytest.approx(3, rel=0.15)
    assert result.valid


@pytest.mark.parametrize(("path", "reason"), [
    ("/degrade/body", "checked responses wrong, e.g."),
    ("/degrade/status", "status"),
])
def test_answers_that_go_wrong_under_load_make_the_run_invalid(
        edge_server: ServerProcess, tmp_path: Path, path: str, reason: str) -> None:
    scenario = tmp_path / "degrade.py"
    scenario.write_text(
        "from loadgen.workloads.scenario import Check, Request\n"
        "def requests(params):\n"
        f"    return [Request('degrading', {path!r}, check=Check(contains=b'good'))]\n")
    result = run_workload(edge_server.endpoint,
                          ScenarioWorkload(load_scenario(str(scenario)), {}),
                          LoadProfile.constant(500, 1.0, warmup_s=0.2, connections=4),
                          Placement(GENERATOR_CORES), check_every=10)
    assert not result.valid
    reasons = result.invalid_reasons()
    assert any(r.startswith("degrading: ") and reason in r for r in reasons), reasons
    kind = result.kinds["degrading"]
    assert kind.checked >= 40
    if path.endswith("body"):
        assert kind.failures == {"body lacks b'good'": kind.checked}
    else:
        assert kind.status[500] >= 490


def loadgen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("source", "message"), [
    ("def requests(params):\n    return [\n", "syntax error at line 2"),
    ("x = 1\n", "defines no requests(params) function"),
    ("raise RuntimeError('boom')\n", "failed to load: RuntimeError: boom"),
])
def test_broken_scenario_files_are_one_line(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / "broken.py"
    path.write_text(source)
    done = loadgen("run", "--target", "raw", "--scenario", str(path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_scenario_and_parameter_are_one_line() -> None:
    done = loadgen("run", "--target", "raw", "--scenario", "nope")
    assert done.returncode == 2 and "unknown scenario 'nope'; built in: " in done.stderr
    done = loadgen("run", "--target", "raw", "--scenario", "routing", "--param", "depth=3")
    assert done.returncode == 2
    assert "unknown parameter 'depth' for scenario routing" in done.stderr


def test_routing_run_reports_each_kind(tmp_path: Path) -> None:
    out = tmp_path / "routing.json"
    done = loadgen("run", "--target", "starlette", "--scenario", "routing", "--param",
                   "routes=500", "--rate", "300", "--duration", "2", "--warmup", "0.5s",
                   "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "valid        every status as expected" in done.stdout
    result = json.loads(out.read_text())
    assert result["valid"] is True and result["invalid_reasons"] == []
    kinds = result["kinds"]
    assert {"first route", "middle route", "last route", "404 miss"} <= set(kinds)
    assert sum(k["requests"] for k in kinds.values()) == result["requests"]
    for kind in kinds.values():
        assert set(kind["latency_us"]) == {"corrected", "uncorrected"}
        assert HdrHistogram.decode(kind["histograms"]["corrected"]).get_total_count() == \
            kind["requests"]
    assert kinds["404 miss"]["status"] == {"404": kinds["404 miss"]["requests"]}


@pytest.mark.parametrize("processes", [1, 2])
def test_a_flow_runs_its_steps_in_order_on_every_connection(raw_server: ServerProcess,
                                                            processes: int) -> None:
    chosen = workload("user_flow")
    result = run_workload(raw_server.endpoint, chosen,
                          LoadProfile(connections=4, duration_s=1.5, warmup_s=0.3,
                                      processes=processes),
                          Placement(GENERATOR_CORES))
    counts = {name: k.requests for name, k in result.kinds.items()}
    flows = sum(w.flows for w in result.workers)
    assert flows > 20
    # Each flow logs in, lists and uploads once, opens one to three items; flows cut by the
    # window's edges make up the difference.
    assert abs(counts["log in"] - flows) <= 8 and abs(counts["upload"] - flows) <= 8
    assert counts["list"] == pytest.approx(counts["log in"], abs=8)
    assert counts["log in"] + 8 < counts["open item"] < 3 * counts["log in"] + 8
    assert sum(k.checked for k in result.kinds.values()) >= result.requests // 100 - 4
    assert result.valid, result.invalid_reasons()


def test_a_flow_wants_closed_loop(raw_server: ServerProcess) -> None:
    with pytest.raises(LoadgenError, match="a scenario with a flow runs closed loop"):
        run_workload(raw_server.endpoint, workload("user_flow"), LoadProfile.constant(10, 1.0),
                     Placement(GENERATOR_CORES))


def test_a_flow_that_names_an_unknown_request_is_counted(raw_server: ServerProcess,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "typo.py"
    path.write_text(
        "from loadgen.workloads.scenario import Request\n"
        "def requests(params):\n"
        "    return [Request('home', '/plaintext')]\n"
        "async def flow(session):\n"
        "    await session.send('home')\n"
        "    await session.send('hmoe')\n")
    result = run_workload(raw_server.endpoint, ScenarioWorkload(load_scenario(str(path)), {}),
                          LoadProfile(connections=2, duration_s=0.5, warmup_s=0.1),
                          Placement(GENERATOR_CORES))
    assert not result.valid
    assert any("'hmoe', which the scenario's requests do not name" in e
               for e in result.total.errors)
    assert result.kinds["home"].requests > 10


@pytest.mark.parametrize(("body", "message"), [
    ("return [Request('a', '/plaintext', weight=0)]", "the requests' weights add up to 0"),
    ("return [Request('a', '/plaintext', weight=float('nan'))]", "has weight nan"),
    ("return [Request('a', '/plaintext', weight=-1)]", "has weight -1"),
    ("raise KeyError('routes')", "requests() raised KeyError: 'routes'"),
    ("return None", "requests() must return a list of Request, not NoneType"),
    ("return [Request('a', lambda rng: 1 / 0)]", "its path function raised ZeroDivisionError"),
    ("return [Request('a', lambda rng: 'plaintext')]", "its path function gave 'plaintext'"),
    ("return [Request('a', 'plaintext')]", "has path 'plaintext'; a path starts with /"),
])
def test_a_scenario_s_mistake_is_one_line_naming_it(tmp_path: Path, body: str,
                                                     message: str) -> None:
    scenario = tmp_path / "mine.py"
    scenario.write_text("from loadgen.workloads.scenario import Request\n\n\n"
                        f"def requests(params):\n    {body}\n")
    done = subprocess.run([sys.executable, "-m", "loadgen", "run", "http://127.0.0.1:9/",
                           "--scenario", str(scenario), "-d", "1s"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert message in done.stderr
