"""py-spy for real: a served target profiled in its measured window, a script profiled from its
start, a bench whose report links its trials' profiles, and the runs that go on without one."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadgen.campaigns.bench import run_bench
from loadgen.campaigns.benchfile import load_bench
from loadgen.cli import cli
from loadgen.measure.runner import Placement
from loadgen.measure.trial import run_served
from loadgen.present.report import build_report
from loadgen.results.store import RunStore
from loadgen.servers import flamegraph, pyspy
from loadgen.servers.launchers import ServerSpec
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.workload import UrlWorkload
from tests.conftest import GENERATOR_CORES, SERVER_CORES

LOADGEN = [sys.executable, "-m", "loadgen"]
REFUSED = ("Permission Denied: Try running again with elevated permissions by going "
           "'sudo env \"PATH=$PATH\" !!'")


def functions(speedscope: Path) -> Counter[tuple[str, str]]:
    """How many samples each (function, file name) was on the stack of."""
    document = json.loads(speedscope.read_text())
    frames = document["shared"]["frames"]
    found: Counter[tuple[str, str]] = Counter()
    for profile in document["profiles"]:
        for sample in profile["samples"]:
            found.update({(frames[i]["name"], Path(frames[i].get("file") or "").name)
                          for i in sample})
    return found


def test_run_profile_writes_a_flame_graph_and_a_speedscope_of_every_worker(
        tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    # Closed loop keeps the workers busy: idle stacks are not sampled, and these must be many.
    done = subprocess.run([*LOADGEN, "run", "--target", "raw", "--workers", "2", "-c", "8",
                           "-d", "2s", "--warmup", "0.5s", "--profile", "--json", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "loadgen: no profile" not in done.stderr
    result = json.loads(out.read_text())
    py_spy = result["py_spy"]
    assert result["profiled"] is True and py_spy["problem"] is None
    assert py_spy["cores"] == result["server_cpus"]
    assert set(py_spy["cores"]).isdisjoint(result["generator"]["cpus"]) or os.cpu_count() == 1
    assert py_spy["speedscope"] == str(tmp_path / "run.speedscope.json")
    assert py_spy["flamegraph"] == str(tmp_path / "run.flame.svg")
    assert f"({py_spy['samples']:,} samples)" in done.stdout
    assert "profiled     py-spy sampled the server" in done.stdout

    found = functions(tmp_path / "run.speedscope.json")
    assert found[("app", "raw_app.py")] > 10, found.most_common(20)
    # Each stack starts with its process, a worker's with the supervisor then the worker.
    assert sum(n for (name, _), n in found.items()
               if name.startswith("process ") and "spawn_main" in name) > 10

    svg = (tmp_path / "run.flame.svg").read_text()
    assert svg.startswith("<svg") and "app (raw_app.py)" in svg
    assert f"{py_spy['samples']:,} samples;" in svg


# Notes its cores, when it started and when it was interrupted, in place of a profile.
CLOCKED_PYSPY = """#!{python}
import json, os, signal, sys, time
started = time.time()
output = sys.argv[sys.argv.index("--output") + 1]

def stop(*_):
    with open(output, "w") as out:
        json.dump({{"shared": {{"frames": []}}, "profiles": [], "started": started,
                   "stopped": time.time(), "cores": sorted(os.sched_getaffinity(0))}}, out)
    sys.exit(0)

signal.signal(signal.SIGINT, stop)
while True:
    signal.pause()
"""


@pytest.mark.parametrize("processes", [1, 2])
def test_py_spy_runs_in_the_measured_window_on_the_servers_cores(
        tmp_path: Path, processes: int) -> None:
    clocked = tmp_path / "py-spy"
    clocked.write_text(CLOCKED_PYSPY.format(python=sys.executable))
    clocked.chmod(0o755)
    spec = ServerSpec("uvicorn", "raw_app:app", cpus=SERVER_CORES,
                      log_path=tmp_path / "server.log")
    profile = LoadProfile.constant(200, 1.0, warmup_s=0.5, processes=processes,
                                   connections=2 * processes)
    result = run_served(spec, "raw", UrlWorkload("/plaintext"), profile,
                        Placement(GENERATOR_CORES, SERVER_CORES),
                        sampling=pyspy.SamplingPlan(tmp_path, "run", str(clocked)))
    assert result.py_spy is not None and result.py_spy.problem is None
    clock = json.loads((tmp_path / "run.speedscope.json").read_text())
    start, end = result.window
    assert start <= clock["started"] < start + 0.2  # its own start-up is the late part
    assert end <= clock["stopped"] < end + 0.1
    assert tuple(clock["cores"]) == SERVER_CORES == result.py_spy.cores


SCRIPT = """
import sys

def crunch_numbers(n):
    return sum(i * i for i in range(n))

def main():
    rounds = int(sys.stdin.read())
    total = 0
    for _ in range(rounds):
        total += crunch_numbers(200_000)
    print(total)

main()
"""


def test_record_command_profiles_a_script_from_its_start(tmp_path: Path) -> None:
    script = tmp_path / "busy.py"
    script.write_text(SCRIPT)
    done, profile = pyspy.record_command([sys.executable, str(script)], tmp_path / "out",
                                         "busy", input="60", cores=SERVER_CORES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(60 * sum(i * i for i in range(200_000)))
    assert profile.problem is None and profile.cores == SERVER_CORES
    assert profile.speedscope == tmp_path / "out" / "busy.speedscope.json"
    assert profile.flamegraph == tmp_path / "out" / "busy.flame.svg"
    assert profile.samples > 20
    assert functions(profile.speedscope)[("crunch_numbers", "busy.py")] > 10
    assert "crunch_numbers (busy.py)" in profile.flamegraph.read_text()


def test_record_command_without_pyspy_runs_the_command_all_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyspy, "find_pyspy", lambda: None)
    done, profile = pyspy.record_command([sys.executable, "-c", "print('done')"], tmp_path,
                                         "none")
    assert done.stdout == "done\n"
    assert profile.problem == "py-spy is not installed (pip install py-spy)"
    assert profile.speedscope is None and not list(tmp_path.iterdir())


def test_where_ptrace_is_refused_one_line_says_so_and_the_run_goes_on(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "py-spy"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho {shlex.quote(REFUSED)} >&2\nexit 1\n")
    fake.chmod(0o755)
    out = tmp_path / "run.json"
    done = subprocess.run([*LOADGEN, "run", "--target", "raw", "--rate", "200", "-d", "1s",
                           "--warmup", "0.3s", "--profile", "--json", str(out)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"loadgen: no profile: py-spy cannot attach (ptrace not permitted: {REFUSED})"]
    result = json.loads(out.read_text())
    assert result["requests"] == pytest.approx(200, rel=0.05)
    assert result["profiled"] is False
    assert result["py_spy"]["problem"].startswith("py-spy cannot attach")
    assert not list(tmp_path.glob("run.*.svg"))
    assert "profiled " not in done.stdout


def test_without_pyspy_one_line_says_pip_install_and_the_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyspy, "find_pyspy", lambda: None)
    out = tmp_path / "run.json"
    done = CliRunner().invoke(cli, ["run", "--target", "raw", "--rate", "200", "-d", "1s",
                                    "--warmup", "0.3s", "--profile", "--json", str(out)])
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [
        "loadgen: no profile: py-spy is not installed (pip install py-spy)"]
    result = json.loads(out.read_text())
    assert result["requests"] > 0 and result["profiled"] is False and result["py_spy"] is None


def test_a_profiled_bench_stores_and_links_each_trials_profile(tmp_path: Path) -> None:
    (tmp_path / "bench.toml").write_text("""
rounds = 2
[load]
connections = 4
duration = "1s"
warmup = "0.3s"
[[target]]
name = "raw"
[[server]]
name = "uvicorn"
[[scenario]]
name = "plaintext"
""")
    store = RunStore.new(tmp_path / "results")
    run_bench(load_bench(tmp_path / "bench.toml"), store,
              Placement(GENERATOR_CORES, SERVER_CORES), profiled=True)
    trials = store.trials()
    assert len(trials) == 2, "the profiles are not mistaken for trials"
    page = build_report(store.path).read_text()
    for trial in trials:
        result = trial.result
        assert result is not None and result.profiled and result.py_spy is not None
        assert result.py_spy.samples > 0
        stem = f"r{trial.round:02d}-p{trial.position:02d}-raw_uvicorn_plaintext"
        for name in (f"{stem}.flame.svg", f"{stem}.speedscope.json"):
            assert (store.path / name).exists()
            assert f'href="../{name}"' in page
        assert f"raw/uvicorn/plaintext, round {trial.round + 1}:" in page


def test_a_flame_graph_counts_each_stack_under_its_callers() -> None:
    document = {"shared": {"frames": [{"name": "main", "file": "/x/a.py", "line": 1},
                                      {"name": "slow", "file": "/x/a.py", "line": 5},
                                      {"name": "fast", "file": "/x/a.py", "line": 9}]},
                "profiles": [{"samples": [[0, 1], [0, 1], [0, 1], [0, 2]]}]}
    counts = flamegraph.stacks(document)
    assert counts == {("main (a.py)", "slow (a.py)"): 3, ("main (a.py)", "fast (a.py)"): 1}
    svg = flamegraph.render(counts, "t")
    assert "<title>main (a.py): 4 samples (100.0%)</title>" in svg
    assert "<title>slow (a.py): 3 samples (75.0%)</title>" in svg
    assert "<title>fast (a.py): 1 samples (25.0%)</title>" in svg
