"""The in-process driver: the same answers as a real server, instruction counts that repeat to the
instruction, a heavier route that counts more while the others do not move, and the verdicts
compare gives on them."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import pytest

from loadgen.analysis.compare import NO_CHANGE, REGRESSION, compare, gate_code
from loadgen.analysis.series import series
from loadgen.campaigns import history
from loadgen.campaigns.bench import run_bench
from loadgen.campaigns.benchfile import ScenarioEntry, ServerEntry, load_bench
from loadgen.campaigns.points import version_points
from loadgen.errors import LoadgenError
from loadgen.inproc import measure as inproc
from loadgen.measure.runner import Placement
from loadgen.present.report import build_history_report
from loadgen.results.history import Point, record_points, trials
from loadgen.results.metrics import REPEATS_WITHIN, metric
from loadgen.results.store import RunStore
from loadgen.servers.launchers import TARGETS_DIR, ServerSpec, running_server, target_app
from loadgen.workloads.request import Endpoint
from loadgen.workloads.scenario import load_scenario
from loadgen.workloads.variants import build_variants
from loadgen.workloads.workload import ScenarioWorkload
from tests.conftest import APPS_DIR, GENERATOR_CORES, ROOT, SERVER_CORES, loadgen

ROUTER = str(APPS_DIR / "router_scenario.py")


def workload(scenario: str, **params: str) -> ScenarioWorkload:
    chosen = load_scenario(scenario)
    return ScenarioWorkload(chosen, chosen.resolve(params), variants=4)


@pytest.mark.parametrize("target", ["raw", "starlette", "fastapi"])
@pytest.mark.parametrize(("scenario", "params"), [
    ("plaintext", {}), ("json", {}), ("routing", {"routes": "20"}), ("multipart", {}),
    ("rest_mix", {}),
])
def test_in_process_answers_are_the_servers(target: str, scenario: str,
                                            params: dict[str, str]) -> None:
    chosen = workload(scenario, **params)
    plan = inproc.plan_for(target, TARGETS_DIR, sys.executable, chosen)
    answers = inproc.first_answers(plan)
    spec = ServerSpec("uvicorn", target_app(target), cpus=SERVER_CORES,
                      env=chosen.target_env)
    with running_server(spec) as server, httpx.Client() as client:
        endpoint = Endpoint(server.endpoint.host, server.endpoint.port)
        requests = chosen.scenario.requests(chosen.values)
        over_http = [v for group in build_variants(endpoint, requests, chosen.variants,
                                                   chosen.seed) for v in group]
        assert len(over_http) == len(answers)
        for sent, (variant, status, body) in zip(over_http, answers, strict=True):
            response = client.send(sent.request)
            assert (variant.name, status, body) == (sent.name, response.status_code,
                                                   response.content)


def test_a_wrong_answer_fails_the_run() -> None:
    # The raw target has no route /a: the check the scenario makes fails, as over HTTP.
    plan = inproc.plan_for("raw", TARGETS_DIR, sys.executable, workload(ROUTER))
    with pytest.raises(LoadgenError, match=r"in process: request '/a' \(GET /a\): status 404"):
        inproc.run_inproc(plan)


def test_timed_figures_per_kind(tmp_path: Path) -> None:
    out = tmp_path / "plain.json"
    done = loadgen("inproc", "--target", "raw", "--scenario", "plaintext", "--repeats", "3",
                   "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "driver on core(s)" in done.stdout
    figures = json.loads(out.read_text())["kinds"]["plaintext"]
    assert figures["us_per_request"] > 0 and len(figures["samples_us"]) == 3
    assert figures["loops"] >= 1


def test_a_profile_names_the_apps_function(tmp_path: Path) -> None:
    done = loadgen("inproc", "--target", "work", "--app-dir", str(APPS_DIR), "--scenario",
                   ROUTER, "--repeats", "3", "--profile", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "profile: " in done.stdout
    assert "squares" in (tmp_path / "inproc.speedscope.json").read_text()
    assert "squares" in (tmp_path / "inproc.flame.svg").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "nope"], "the scenario has no request kind 'nope'; it has: plaintext"),
    (["--instructions", "--calls", "0"], "--calls must be at least 1, not 0"),
    (["--repeats", "1"], "--repeats must be at least 2"),
])
def test_bad_inproc_options_are_one_line(args: list[str], message: str) -> None:
    done = loadgen("inproc", "--target", "raw", "--scenario", "plaintext", *args)
    assert done.returncode == 2
    assert done.stderr.startswith(f"loadgen: error: {message}"), done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- instruction counts

ONE_PERCENT = ROOT / "benchmarks" / "one_percent.toml"


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    """Two targets under callgrind, two rounds: heavier_app.py does 1% more work on /b."""
    store = RunStore.new(tmp_path_factory.mktemp("callgrind") / "results")
    run_bench(load_bench(ONE_PERCENT), store, Placement(GENERATOR_CORES, SERVER_CORES))
    return store


def per_kind(store: RunStore, target: str) -> list[dict[str, float]]:
    """Per round, each kind's instructions per request."""
    trials = sorted((t for t in store.trials() if t.cell.target == target),
                    key=lambda t: t.round)
    assert [t.status for t in trials] == ["ok", "ok"], trials[0].error
    return [{kind: figures.instructions_per_request
             for kind, figures in t.result.kinds.items()} for t in trials]


def test_instruction_counts_repeat_within_the_stated_tolerance(counted: RunStore) -> None:
    # Here the two rounds count the same to the instruction; on the CI runner once 2 of
    # 29,022,321 apart (cause not found). What a verdict stands on is the tolerance
    # REPEATS_WITHIN (0.01%), 2,900 instructions of these: glibc's malloc missed it by 2.8%.
    for target in ("work", "heavier"):
        first, second = per_kind(counted, target)
        assert first.keys() == second.keys()
        for kind, count in first.items():
            assert abs(second[kind] - count) <= count * REPEATS_WITHIN, (target, kind)


def test_the_heavier_route_counts_more_and_the_others_the_same(counted: RunStore) -> None:
    work, heavier = per_kind(counted, "work")[0], per_kind(counted, "heavier")[0]
    assert heavier["/b"] > work["/b"] * 1.01
    # Two different programs, not two runs of one: the module names and file paths differ, and
    # on the CI runner /a moved by 6 instructions of 302,241 (string hashing and copies of
    # names of another length). "The same" is within 0.01%, a hundredth of the 1% change.
    for kind in ("/a", "/c"):
        assert heavier[kind] == pytest.approx(work[kind], rel=1e-4)


def test_a_kind_counts_the_same_alone_and_among_the_others() -> None:
    # Each kind is counted in a child forked from the one started app: what the other kinds
    # did is not in its memory. Alone, the spec the parent read is shorter, and the parent's
    # heap other (seen: 60 instructions apart in 16 calls): within 0.01%, the bound.
    def counts(kinds: tuple[str, ...]) -> dict[str, float | None]:
        plan = inproc.plan_for("work", APPS_DIR, sys.executable, workload(ROUTER),
                               instructions=True, kinds=kinds, calls=16)
        return {k: f.instructions_per_request for k, f in inproc.run_inproc(plan).kinds.items()}

    alone, among = counts(("/c",)), counts(())
    assert list(among) == ["/a", "/b", "/c"]
    assert alone["/c"] == pytest.approx(among["/c"], rel=1e-4)


MARKING_APP = """
import os
from work_app import make_app

inner = make_app()


async def app(scope, receive, send):
    if scope.get("path") == "/b":
        os.sched_yield()  # the call on which callgrind dumps its counters
    await inner(scope, receive, send)
"""


def test_an_app_that_calls_the_mark_is_told_not_miscounted(tmp_path: Path) -> None:
    (tmp_path / "marking_app.py").write_text(MARKING_APP)
    (tmp_path / "work_app.py").write_text((APPS_DIR / "work_app.py").read_text())
    plan = inproc.plan_for("marking", tmp_path, sys.executable, workload(ROUTER),
                           instructions=True, kinds=("/b",), calls=4)
    with pytest.raises(LoadgenError, match=r"callgrind dumped \d+ times where the driver "
                                           r"marked 3: does the app call sched_yield\(\)\?"):
        inproc.run_inproc(plan)


def test_compare_calls_the_heavier_route_a_regression_and_nothing_else(
        counted: RunStore) -> None:
    comparisons, _ = compare(counted.trials(), ("work", "callgrind"))
    verdicts = {c.metric.label: c.verdict for c in comparisons}
    # Over the mix of three routes the step is a third as large: inside ±1%.
    assert verdicts == {"instructions": NO_CHANGE, "instructions [/a]": NO_CHANGE,
                        "instructions [/b]": REGRESSION, "instructions [/c]": NO_CHANGE}
    assert metric("instructions").delta == 0.01


def test_instructions_are_a_history_and_gate_metric(counted: RunStore) -> None:
    # The two targets as two points of a history: the step on /b is found at 1%, the metric's
    # own threshold, below the 5% that wall-clock figures need.
    axis = [Point("version", name, name, name) for name in ("work", "heavier")]
    found = {s.metric.label: s for s in series(counted.trials(), axis)}
    assert {"instructions", "instructions [/a]", "instructions [/b]"} <= set(found)
    assert "p50" not in found  # in process there are no latencies
    assert [round(c.magnitude, 3) for c in found["instructions [/b]"].changes] == [0.012]
    assert found["instructions [/a]"].changes == ()
    comparisons, _ = compare(counted.trials(), ("work", "callgrind"),
                             (metric("instructions", "/b"),))
    assert gate_code(comparisons) == 1


def test_a_history_of_instruction_counts_draws_its_report(counted: RunStore) -> None:
    # The two targets as two commits of a history whose trials are the callgrind bench's: the
    # report charts every metric those trials have, instructions included.
    home = counted.path.parent  # history.trials reads HOME/*/trial-*.json
    record_points(home, [Point("commit", name, name, name, f"2026-01-0{day}T00:00:00+00:00")
                         for day, name in ((1, "work"), (2, "heavier"))])
    page = build_history_report(home)
    figures = re.findall(r'<img src="([^"]+)"', page.read_text())
    assert len(figures) == 4  # all requests, /a, /b, /c
    assert all((page.parent / name).stat().st_size > 1000 for name in figures)
    assert "instructions [/b]" in page.read_text()  # its change point, in the table


@pytest.mark.slow
def test_a_callgrind_history_over_two_starlette_releases_draws_its_report(
        tmp_path: Path) -> None:
    found = version_points("starlette==0.37.2,0.38.0")
    plan = history.HistoryPlan("starlette==0.37.2,0.38.0", tuple(found),
                               ServerEntry("callgrind"), (ScenarioEntry("plaintext"),), {},
                               "starlette", rounds=2)
    home = tmp_path / "history"
    history.measure(plan, home, Placement(GENERATOR_CORES, SERVER_CORES))
    done = trials(home)
    assert len(done) == 4 and all(t.status == "ok" for t in done), [t.error for t in done]
    page = build_history_report(home)
    figures = re.findall(r'<img src="([^"]+)"', page.read_text())
    assert figures and all((page.parent / name).stat().st_size > 1000 for name in figures)
    assert "0.38.0" in page.read_text()
