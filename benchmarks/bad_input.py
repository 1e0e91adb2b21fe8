"""Replays the bad inputs and faults of the hardening issue against this checkout, as a new
user would run them, and prints for each: the exit code, how many lines went to stderr,
whether a traceback showed, and whether the result it should keep is on disk.

Usage: python benchmarks/bad_input.py (about two minutes; servers on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from loadgen.servers.usage import generator_connected

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = [sys.executable, "-m", "loadgen"]
FAULTS = ROOT / "tests" / "apps" / "faults.py"
SHORT = ("--rate", "100", "-d", "1s", "--warmup", "0s")


@dataclass
class Outcome:
    code: int
    stderr: str
    kept: bool | None = None  # the result it must keep is on disk (None: nothing to keep)

    @property
    def lines(self) -> int:
        return len(self.stderr.strip().splitlines())


def loadgen(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LOADGEN, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def plain(*args: str) -> Callable[[Path], Outcome]:
    def case(tmp: Path) -> Outcome:
        done = loadgen(*args)
        return Outcome(done.returncode, done.stderr)
    return case


def kept(*args: str, path: str) -> Callable[[Path], Outcome]:
    """A run whose result must be on disk afterwards (at `path` or a rescue file it names)."""
    def case(tmp: Path) -> Outcome:
        done = loadgen(*(a.replace("TMP", str(tmp)).replace("URL", URL) for a in args))
        target = Path(path.replace("TMP", str(tmp)))
        rescued = " it is in " in done.stderr and Path(
            done.stderr.rsplit(" it is in ", 1)[1].split(" instead")[0]).exists()
        return Outcome(done.returncode, done.stderr, target.exists() or rescued)
    return case


def scenario(body: str) -> Callable[[Path], Outcome]:
    def case(tmp: Path) -> Outcome:
        (tmp / "mine.py").write_text("from loadgen.workloads.scenario import Request\n\n\n"
                                     f"def requests(params):\n    {body}\n")
        done = loadgen("run", URL, "--scenario", str(tmp / "mine.py"), "-d", "1s")
        return Outcome(done.returncode, done.stderr)
    return case


BENCH = """rounds = 2
baseline = {{ target = "a", server = "uvicorn" }}
[load]
rate = 100
duration = "{duration}"
warmup = "0s"
[[target]]
name = "a"
app = "raw"
[[target]]
name = "b"
app = "raw"
[[server]]
name = "{server}"
[[scenario]]
name = "plaintext"
"""


def bench_file(text: str) -> Callable[[Path], Outcome]:
    def case(tmp: Path) -> Outcome:
        (tmp / "bench.toml").write_text(text)
        done = loadgen("bench", str(tmp / "bench.toml"), "--results", str(tmp / "results"))
        return Outcome(done.returncode, done.stderr)
    return case


def finished_run(tmp: Path) -> Path:
    (tmp / "bench.toml").write_text(BENCH.format(duration="0.5s", server="uvicorn"))
    loadgen("bench", str(tmp / "bench.toml"), "--results", str(tmp / "results"),
            "--budget", "0")
    return next(p for p in (tmp / "results").glob("*/*") if p.is_dir())


def compare(*args: str, cut: bool = False) -> Callable[[Path], Outcome]:
    def case(tmp: Path) -> Outcome:
        run = finished_run(tmp)
        if cut:
            trial = next(run.glob("trial-*.json"))
            trial.write_text(trial.read_text()[:200])
        done = loadgen("compare", str(run), *args)
        return Outcome(done.returncode, done.stderr)
    return case


def interrupt(args: list[str], group: bool, wait: Callable[[int], None],
              keep: str | None = None) -> Callable[[Path], Outcome]:
    def case(tmp: Path) -> Outcome:
        (tmp / "bench.toml").write_text(BENCH.format(duration="30s", server="uvicorn"))
        proc = subprocess.Popen([*LOADGEN, *(a.replace("TMP", str(tmp)) for a in args)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=group)
        wait(proc.pid)
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        found = None if keep is None else any(tmp.glob(keep))
        return Outcome(proc.returncode, stderr, found)
    return case


def children(pid: int) -> None:
    while not psutil.Process(pid).children():
        time.sleep(0.01)


def loaded(pid: int) -> None:
    """Until a server under `pid` has a generator connected to it (polled: another
    process's sockets give no event to wait on)."""
    while not generator_connected(pid):
        time.sleep(0.05)


def storm(mode: str) -> Callable[[Path], Outcome]:
    """Connect attempts against a server that closes every connection (or is killed)."""
    def case(tmp: Path) -> Outcome:
        server = subprocess.Popen([sys.executable, str(FAULTS), mode], stdout=subprocess.PIPE,
                                  text=True)
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        try:
            done = loadgen("run", f"http://127.0.0.1:{port}/", "--rate", "100", "-d", "2s",
                           "--warmup", "0s", "--json", str(tmp / "run.json"))
        finally:
            server.kill()
            server.communicate()
        result = json.loads((tmp / "run.json").read_text())
        print(f"    {mode}: {result['generator']['reconnects']:,} connect attempts in 2 s")
        return Outcome(done.returncode, done.stderr, True)
    return case


CLOSED = "http://127.0.0.1:9/"
URL = CLOSED  # filled with a live server's in main()
CASES: list[tuple[str, Callable[[Path], Outcome], int]] = [
    ("--json on a path that cannot be written at the end (/proc)",
     kept("run", "URL", *SHORT, "--json", "/proc/loadgen.json", path="/nonexistent"), 2),
    ("--hlog under a file", plain("run", CLOSED, "--hlog", "/etc/hostname/x.hlog"), 2),
    ("--json that is a folder", plain("run", CLOSED, "--json", "/tmp"), 2),
    ("--json whose parent is a file", plain("run", CLOSED, "--json", "/etc/hostname/x.json"),
     2),
    ("Ctrl-C during a bench trial",
     interrupt(["bench", "TMP/bench.toml", "--results", "TMP/results"], False, loaded,
               "results/*/*/trial-*.json"), 130),
    ("Ctrl-C while --processes 8 workers start",
     interrupt(["run", "--target", "raw", "--processes", "8", "--rate", "100", "-d", "30s"],
               True, children), 130),
    ("a server that closes every connection at once", storm("close"), 1),
    ("scenario: total weight 0", scenario("return [Request('a', '/plaintext', weight=0)]"), 2),
    ("scenario: NaN weight",
     scenario("return [Request('a', '/plaintext', weight=float('nan'))]"), 2),
    ("scenario: negative weight", scenario("return [Request('a', '/plaintext', weight=-1)]"),
     2),
    ("scenario: requests() raises", scenario("raise KeyError('routes')"), 2),
    ("scenario: requests() returns None", scenario("return None"), 2),
    ("scenario: a path function raises", scenario("return [Request('a', lambda r: 1 / 0)]"),
     2),
    ("scenario: a path without /", scenario("return [Request('a', 'plaintext')]"), 2),
    ("--connections 200000", plain("run", CLOSED, "--connections", "200000"), 2),
    ("--rate nan", plain("run", CLOSED, "--rate", "nan"), 2),
    ("--stages 1s:nan", plain("run", CLOSED, "--stages", "1s:nan"), 2),
    ("an unresolvable host", plain("run", "http://no-such-host.invalid/", "-d", "1s"), 2),
    ("bench: unknown key durration",
     bench_file(BENCH.format(duration="1s", server="uvicorn").replace("duration",
                                                                     "durration")), 2),
    ("bench: unknown server", bench_file(BENCH.format(duration="1s", server="uvicron")), 2),
    ("bench: rounds = \"three\"",
     bench_file(BENCH.format(duration="1s", server="uvicorn").replace("rounds = 2",
                                                                     'rounds = "three"')), 2),
    ("compare --baseline nosuch/x", compare("--baseline", "nosuch/x"), 2),
    ("compare --delta p99=-1", compare("--delta", "p99=-1"), 2),
    ("compare with a truncated trial file", compare(cut=True), None),
    ("a run in which no request succeeded",
     kept("run", "URLno-such-page", *SHORT, "--json", "TMP/run.json", path="TMP/run.json"), 1),
]


def main() -> None:
    global URL
    from loadgen.servers.launchers import ServerSpec, running_server

    with running_server(ServerSpec("uvicorn", "raw_app:app")) as server:
        URL = f"http://{server.endpoint.authority}/"
        good = 0
        for name, case, expected in CASES:
            with tempfile.TemporaryDirectory() as tmp:
                outcome = case(Path(tmp))
            ok = ("Traceback" not in outcome.stderr and outcome.lines <= 1
                  and (expected is None or outcome.code == expected)
                  and outcome.kept is not False)
            good += ok
            first = outcome.stderr.strip().splitlines()[:1] or [""]
            print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {outcome.code}, {outcome.lines} "
                  f"line(s){'' if outcome.kept is None else f', result kept {outcome.kept}'}"
                  f"\n      {first[0][:150]}")
        print(f"{good} of {len(CASES)} cases: one line at most, no traceback, the documented "
              "exit code, nothing measured lost")


if __name__ == "__main__":
    main()
