"""The `loadgen` command as a user runs it: a subprocess, real servers, files on disk."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from hdrh.histogram import HdrHistogram

from loadgen.campaigns import options as campaign
from loadgen.cli import cli
from loadgen.inproc.options import InprocOptions
from loadgen.measure.single import RunOptions
from loadgen.present.verdicts import CompareOptions
from loadgen.results.metrics import METRICS
from loadgen.servers.launchers import ServerProcess
from loadgen.servers.serving import ServeOptions
from tests.conftest import CLOSED_PORT, LOADGEN, loadgen, wait_for_load, wait_for_load_under


@pytest.mark.parametrize(("args", "message"), [
    (["run", "not a url"], "invalid URL"),
    (["run", "http://"], "invalid URL"),
    (["run", "http://127.0.0.1:99999/"], "invalid URL"),
    (["run", "ftp://127.0.0.1/"], "invalid URL 'ftp://127.0.0.1/': expected http[s]://host"),
    (["run", CLOSED_PORT.replace("http:", "https:"), "-d", "1s"], "cannot connect to 127.0.0.1"),
    (["run", CLOSED_PORT, "-d", "1s"], "cannot connect to 127.0.0.1"),
    (["run", CLOSED_PORT, "--rate", "0"], "--rate must be positive"),
    (["run", CLOSED_PORT, "--rate", "-5"], "--rate must be positive"),
    (["run", CLOSED_PORT, "--duration", "0s"], "--duration must be positive"),
    (["run", CLOSED_PORT, "--duration", "-3s"], "not a duration"),
    (["run", CLOSED_PORT, "--rate", "100", "--stages", "1s:100"], "cannot be used together"),
    (["run", CLOSED_PORT, "--stages", "1s:100,2s"], "not a stage"),
    (["run", CLOSED_PORT, "--connections", "many"], "'many' is not a valid integer"),
    (["run", CLOSED_PORT, "--cpus", "99"], "not available here"),
    (["run", "--target", "nope"], "unknown target 'nope'; choose from: fastapi, raw, starlette"),
    (["run", "--target", "raw", "--server", "nope"], "unknown server 'nope'"),
    (["run"], "give a URL"),
    (["nosuchcommand"], "No such command"),
    # Where results go is checked before any load runs.
    (["run", CLOSED_PORT, "--json", "/tmp"], "--json /tmp: is a folder; give a file name"),
    (["run", CLOSED_PORT, "--json", "/etc/hostname/x.json"], "/etc/hostname is a file, not a"),
    (["run", CLOSED_PORT, "--hlog", "/etc/hostname/x.hlog"], "--hlog /etc/hostname/x.hlog: "),
    (["bench", "bench.toml", "--results", "/etc/hostname"], "--results /etc/hostname: "),
    (["run", CLOSED_PORT, "--rate", "nan"], "--rate must be positive, not nan"),
    (["run", CLOSED_PORT, "--rate", "inf"], "--rate must be positive, not inf"),
    (["run", CLOSED_PORT, "--stages", "1s:nan"], "every stage needs a positive duration"),
    (["run", "http://no-such-host.invalid/", "-d", "1s"], "cannot resolve no-such-host.invalid"),
    (["run", CLOSED_PORT, "--connections", "200000"], "at most"),
    (["run", CLOSED_PORT, "--max-failed", "2"], "--max-failed takes a share such as 1%"),
    (["run", CLOSED_PORT, "--max-failed", "nan"], "--max-failed takes a share such as 1%"),
    (["bisect", ".", "--good", "a", "--bad", "b", "--scenario", "routing", "--max-rounds", "-1"],
     "'--max-rounds': -1 is not in the range x>=2"),
    (["history", ".", "--scenario", "routing", "--every", "0"], "'--every': 0 is not in the"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = loadgen(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert lines[0].startswith("loadgen: error: ")
    assert "Traceback" not in done.stderr + done.stdout


def test_json_and_interval_log_of_a_managed_server(tmp_path: Path) -> None:
    out, hlog = tmp_path / "run.json", tmp_path / "run.hlog"
    done = loadgen("run", "--target", "raw", "--server", "uvicorn", "--rate", "500",
                   "-d", "2s", "--warmup", "0.5s", "--json", str(out), "--hlog", str(hlog),
                   "--max-failed", "0")  # nothing fails: 0 is not exceeded
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout, "no progress line when stdout is not a terminal"
    assert "cores: generator" in done.stdout
    assert "share core" not in done.stdout
    result = json.loads(out.read_text())
    assert result["requests"] == pytest.approx(1000, rel=0.02)
    assert result["duration_s"] == pytest.approx(2.0, rel=0.01)
    assert result["throughput_rps"] == pytest.approx(500, rel=0.02)
    for kind in ("corrected", "uncorrected"):
        figures = result["latency_us"][kind]
        assert set(figures) >= {"p50", "p90", "p99", "p999", "max"}
        assert 0 < figures["p50"] <= figures["p99"] <= figures["max"]
        decoded = HdrHistogram.decode(result["histograms"][kind])
        assert decoded.get_total_count() == result["requests"]
    assert set(result["send_lag_us"]) == {"p50", "p99", "max"}
    assert result["status"] == {"200": result["requests"]}
    assert result["errors"] == {}
    # The self-check's three causes, each with its figures; whether any showed is the
    # machine's doing (benchmarks/selfcheck.py makes each happen).
    assert set(result["causes"]) <= {"generator", "machine pause", "server pushback"}
    assert result["generator_bound"] is ("generator" in result["causes"])
    assert {"late_sends", "cpu_fraction", "core_wait_fraction"} <= set(result["generator"])
    assert {"count", "total_ms", "longest_ms", "steal_ms"} <= set(result["machine_pauses"])
    assert {"waited_for_connection", "writes_blocked"} <= set(result["server_pushback"])
    assert all({"paused_ms", "steal_ms"} <= set(s) for s in result["series"])
    assert "machine      " in done.stdout and "pushback     " in done.stdout
    assert result["server_cpus"] and result["generator"]["cpus"]
    assert set(result["server_cpus"]).isdisjoint(result["generator"]["cpus"]) or \
        os.cpu_count() == 1
    assert list(result["kinds"]) == ["GET /plaintext"]
    assert result["server"]["name"] == "uvicorn"
    assert result["server_cpu_us_per_request"] > 0
    assert result["server_rss_mb_max"] > 0
    assert "server       uvicorn, 1 worker(s):" in done.stdout
    assert [s["second"] for s in result["series"]] == [0, 1]
    tagged = [line.split(",")[0] for line in hlog.read_text().splitlines()
              if line.startswith("Tag=")]
    assert tagged.count("Tag=corrected") == tagged.count("Tag=uncorrected") == 2


def test_ctrl_c_stops_early_and_keeps_what_was_measured(raw_server: ServerProcess,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    url = f"http://{raw_server.endpoint.authority}/plaintext"
    proc = subprocess.Popen([*LOADGEN, "run", url, "--rate", "300", "-d", "60s",
                             "--warmup", "0.5s", "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_load(raw_server)
    time.sleep(2.0)  # the warm-up of 0.5 s, then some measured time
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "INTERRUPTED" in stdout
    result = json.loads(out.read_text())
    assert result["interrupted"] is True
    assert 0 < result["requests"] < 300 * 60
    assert result["duration_s"] < 60


def test_a_server_that_dies_mid_run_still_gets_a_summary_and_json(
        raw_server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    url = f"http://{raw_server.endpoint.authority}/plaintext"
    proc = subprocess.Popen([*LOADGEN, "run", url, "--rate", "300", "-d", "3s", "--warmup",
                             "0.5s", "--timeout", "1s", "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_load(raw_server)
    time.sleep(1.5)  # into the measured window of 0.5 s to 3.5 s
    raw_server.stop()
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "errors       connect:" in stdout
    result = json.loads(out.read_text())
    assert result["errors"]["connect"] > 0
    assert result["generator"]["unsent"] > 0
    assert 0 < result["requests"] < 900
    # Reconnects back off (10 ms doubling to 1 s): at --rate 500 they were once 8,657 in
    # under 2 s; 64 connections can now try about 12 times each in the 2 s left.
    assert result["generator"]["reconnects"] <= 64 * 14


def test_progress_line_on_a_terminal(raw_server: ServerProcess) -> None:
    url = f"http://{raw_server.endpoint.authority}/plaintext"
    pid, fd = pty.fork()
    if pid == 0:  # the child: loadgen on a pseudo-terminal
        os.execv(sys.executable, [*LOADGEN, "run", url, "--rate", "200", "-d", "2.5s",
                                  "--warmup", "0.2s"])
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = output.decode()
    assert "\r" in text and "req/s  p99 so far" in text
    assert "requests     " in text


def test_connections_beyond_the_open_files_limit_are_refused_before_any_is_opened() -> None:
    done = subprocess.run(["bash", "-c", "ulimit -n 1000 && exec \"$@\"", "-", *LOADGEN, "run",
                           CLOSED_PORT, "--connections", "2000", "-d", "1s"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "loadgen: error: --connections 2000: a process needs about 2,064 open files and may "
        "have 1,000 (ulimit -Hn); use fewer connections, or more --processes")


def test_a_run_in_which_nothing_succeeded_exits_1_and_keeps_its_json(
        raw_server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    done = loadgen("run", f"http://{raw_server.endpoint.authority}/no-such-page", "--rate",
                   "50", "-d", "0.5s", "--warmup", "0s", "--json", str(out))
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "loadgen: error: no request succeeded"
    assert json.loads(out.read_text())["status"] == {"404": 25}


def test_more_failed_than_max_failed_exits_1(edge_server: ServerProcess, tmp_path: Path
                                             ) -> None:
    # Two kinds in equal parts, one of which answers 500 after its first 5: about half fail.
    scenario = tmp_path / "half.py"
    scenario.write_text("from loadgen.workloads.scenario import Request\n\n\n"
                        "def requests(params):\n"
                        "    return [Request('ok', '/plaintext'),\n"
                        "            Request('degrading', '/degrade/status')]\n")
    url = f"http://{edge_server.endpoint.authority}/"
    done = loadgen("run", url, "--scenario", str(scenario), "--rate", "50", "-d", "0.5s",
                   "--warmup", "0s", "--max-failed", "10%")
    assert done.returncode == 1
    failed = done.stderr.strip().removeprefix("loadgen: error: ").split("%")[0]
    assert 40 < float(failed) < 60, done.stderr
    assert done.stderr.strip().endswith("of requests failed, more than --max-failed 10.00%")


def test_a_result_that_cannot_be_written_at_the_end_is_rescued(tmp_path: Path) -> None:
    from loadgen.errors import LoadgenError
    from loadgen.results.output import save

    blocker = tmp_path / "gone"
    blocker.write_text("a file where the folder was")  # the folder became a file meanwhile
    with pytest.raises(LoadgenError) as caught:
        save(blocker / "run.json", '{"requests": 1}', "--json")
    message = str(caught.value)
    assert message.startswith(f"cannot write --json {blocker / 'run.json'}: ")
    rescue = Path(message.rsplit(" it is in ", 1)[1].removesuffix(" instead"))
    assert rescue.read_text() == '{"requests": 1}'
    rescue.unlink()
    assert list(tmp_path.iterdir()) == [blocker]  # no .tmp file left behind


def test_ctrl_c_while_worker_processes_start_is_one_line_and_exit_130(
        raw_server: ServerProcess) -> None:
    # Ctrl-C at a terminal reaches the whole process group: the workers starting up too.
    url = f"http://{raw_server.endpoint.authority}/plaintext"
    proc = subprocess.Popen([*LOADGEN, "run", url, "--processes", "8", "--rate", "100", "-d",
                             "30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 1, stderr


BENCH_TO_INTERRUPT = """
rounds = 2
baseline = { target = "a", server = "uvicorn" }
[load]
rate = 100
duration = "30s"
warmup = "0s"
[[target]]
name = "a"
app = "raw"
[[target]]
name = "b"
app = "raw"
[[server]]
name = "uvicorn"
[[scenario]]
name = "plaintext"
"""


def test_ctrl_c_in_a_bench_trial_exits_130_and_keeps_the_trial(tmp_path: Path) -> None:
    (tmp_path / "bench.toml").write_text(BENCH_TO_INTERRUPT)
    proc = subprocess.Popen([*LOADGEN, "bench", str(tmp_path / "bench.toml"), "--results",
                             str(tmp_path / "results")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_load_under(proc.pid)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted: the finished trials are in" in stderr
    trials = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*/*/trial-*")]
    assert trials and all(t["status"] == "interrupted" for t in trials)
    assert "| cell |" not in stdout  # no verdicts from a cut-short round


@pytest.mark.parametrize(("command", "options"), [
    ("run", RunOptions), ("serve", ServeOptions), ("inproc", InprocOptions),
    ("bench", campaign.BenchOptions), ("compare", CompareOptions),
    ("history", campaign.HistoryOptions), ("bisect", campaign.BisectOptions),
    ("nightly", campaign.NightlyOptions), ("ab", campaign.AbOptions),
])
def test_a_command_takes_every_field_of_its_options_and_nothing_else(command: str,
                                                                     options: type) -> None:
    # The command hands its parameters to the options class as they are: a field without an
    # option would keep its default unseen, an option without a field would fail every run.
    assert {p.name for p in cli.commands[command].params} == {
        f.name for f in dataclasses.fields(options) if f.init}


def test_the_metric_option_names_every_metric() -> None:
    # The options module names them in text, so as not to import the metrics.
    assert campaign.METRIC_NAMES.replace(" or ", ", ").split(", ") == [m.name for m in METRICS]
