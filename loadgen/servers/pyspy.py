"""Where the time went: py-spy (https://github.com/benfred/py-spy) samples a process and its
children from outside, and a recording leaves a speedscope profile (NAME.speedscope.json) and a
flame graph drawn from it (NAME.flame.svg).

One py-spy process per recording, writing speedscope, with the SVG drawn by
loadgen.servers.flamegraph from that file: py-spy writes one format per process, and a second py-
spy beside the first would double what sampling costs the server (about 3% of a core each at 100 Hz
here) and give the two files different samples. `--nonblocking`, because py-spy otherwise stops the
process for each sample, and those pauses would land in the latencies being measured.
`--subprocesses`, so that every worker of a server is sampled; each stack starts with the process
it came from.

Sampling needs ptrace. Where it is not allowed, or py-spy is not installed, a recording says why
it has no profile, in words for one line, and whatever it profiled runs all the same.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from loadgen.cpus import pinned
from loadgen.results.measured import PySpyProfile
from loadgen.servers import flamegraph

RATE_HZ = 100  # py-spy's default: about 3% of a core; 1000 Hz cost 20% and doubled a p99
STOP_GRACE_S = 5.0  # py-spy writes its file on SIGINT; one that takes longer is killed
_YAMA_SCOPE = Path("/proc/sys/kernel/yama/ptrace_scope")
_CAP_SYS_PTRACE = 19


@dataclass(frozen=True)
class SamplingPlan:
    """Sample with py-spy into FOLDER/NAME.speedscope.json and FOLDER/NAME.flame.svg."""

    folder: Path
    name: str
    executable: str | None = None  # py-spy; None: find_pyspy()'s
    rate_hz: int = RATE_HZ

    @property
    def speedscope(self) -> Path:
        return self.folder / f"{self.name}.speedscope.json"

    @property
    def flamegraph(self) -> Path:
        return self.folder / f"{self.name}.flame.svg"


def find_pyspy() -> str | None:
    """py-spy as the shell finds it, else the one installed beside this interpreter (a
    virtualenv's, run without activating it); None when there is neither."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def unavailable(executable: str | None) -> str | None:
    """Why py-spy cannot sample here, in words for one line; None when it may (an attach can
    still be refused: a recording then says so)."""
    if executable is None:
        return "py-spy is not installed (pip install py-spy)"
    try:
        scope = int(_YAMA_SCOPE.read_text())
    except (OSError, ValueError):  # no Yama: the ordinary checks, which the attach tells
        return None
    if scope >= 3:
        return f"py-spy cannot attach (ptrace not permitted: {_YAMA_SCOPE} is {scope})"
    # 1 and 2 need CAP_SYS_PTRACE: py-spy is never the ancestor of what it samples here.
    if scope >= 1 and not _may_trace_any():
        return (f"py-spy cannot attach (ptrace not permitted: {_YAMA_SCOPE} is {scope} "
                f"and this process lacks CAP_SYS_PTRACE)")
    return None


def _may_trace_any() -> bool:
    status = Path("/proc/self/status").read_text()
    effective = next((line.split()[1] for line in status.splitlines()
                      if line.startswith("CapEff:")), "0")
    return bool(int(effective, 16) >> _CAP_SYS_PTRACE & 1)


class Recording:
    """py-spy sampling process `pid` and its children, itself pinned to `cores` (the profiled
    process's, never the generator's), from `start` (or the instant `between` sets) to `stop`,
    which says what it left."""

    def __init__(self, pid: int, plan: SamplingPlan, cores: tuple[int, ...] = ()) -> None:
        self.pid = pid
        self.plan = plan
        self.cores = cores
        self._executable = plan.executable or find_pyspy()
        self._problem = unavailable(self._executable)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()
        self._stopped = False

    def between(self, start_epoch: float, end_epoch: float) -> None:
        """Sample from `start_epoch` to `end_epoch` (seconds since the epoch). py-spy takes a
        few tens of ms to attach: the samples start that much later."""
        now = time.time()
        self._timers = [threading.Timer(max(0.0, start_epoch - now), self.start),
                        threading.Timer(max(0.0, end_epoch - now), self._interrupt)]
        for timer in self._timers:
            timer.daemon = True
            timer.start()

    def start(self) -> None:
        """Start sampling now (once; not after `stop`, nor where py-spy cannot run)."""
        with self._lock:
            if self._stopped or self._problem or self._process is not None:
                return
            assert self._executable is not None
            self.plan.folder.mkdir(parents=True, exist_ok=True)
            self.plan.speedscope.unlink(missing_ok=True)  # an earlier run's is not this one's
            # Not a pipe, which py-spy could fill while nobody reads; closed by `stop`.
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
            command = [self._executable, "record", "--pid", str(self.pid), "--subprocesses",
                       "--nonblocking", "--rate", str(self.plan.rate_hz), "--format",
                       "speedscope", "--output", str(self.plan.speedscope)]
            # A session of its own: a Ctrl-C meant for loadgen reaches py-spy through `stop`.
            with pinned(self.cores) if self.cores else contextlib.nullcontext():
                self._process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=self._stderr, start_new_session=True)

    def _interrupt(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.send_signal(signal.SIGINT)

    def stop(self) -> PySpyProfile:
        """End the recording (py-spy writes its file when interrupted), draw its flame graph,
        and say what it left."""
        with self._lock:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
            process = self._process
        if process is None:
            return self._profile(problem=self._problem
                                 or "the run ended before py-spy was due to start")
        self._interrupt()
        try:
            code = process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        assert self._stderr is not None
        self._stderr.seek(0)
        said = self._stderr.read().decode(errors="replace")
        self._stderr.close()
        try:
            document = json.loads(self.plan.speedscope.read_text())
        except (OSError, ValueError):
            return self._profile(problem=_diagnosis(said, code))
        counts = flamegraph.stacks(document)
        self.plan.flamegraph.write_text(flamegraph.render(
            counts, f"{self.plan.name}: py-spy, {self.plan.rate_hz} Hz"))
        return self._profile(speedscope=self.plan.speedscope, flamegraph=self.plan.flamegraph,
                             samples=sum(counts.values()))

    def _profile(self, **outcome: Any) -> PySpyProfile:
        return PySpyProfile(self.cores, self.plan.rate_hz, **outcome)


def _diagnosis(stderr: str, code: int) -> str:
    """py-spy's failure in words for one line: its first line, where ptrace was refused."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = lines[0] if lines else f"exit code {code}, nothing said"
    lowered = stderr.lower()
    if "permission denied" in lowered or "operation not permitted" in lowered \
            or "sys_ptrace" in lowered:
        return f"py-spy cannot attach (ptrace not permitted: {first})"
    return f"py-spy wrote no profile ({first})"


def record_command(argv: Sequence[str], folder: Path, name: str,
                   env: Mapping[str, str] | None = None, *, input: str | None = None,
                   cwd: Path | None = None, cores: tuple[int, ...] = (),
                   timeout_s: float | None = None, executable: str | None = None,
                   ) -> tuple[subprocess.CompletedProcess[str], PySpyProfile]:
    """Run `argv` to its end as `subprocess.run(..., capture_output=True, text=True)` would,
    py-spy sampling it (and its children) meanwhile, pinned to `cores`; return what it did and
    the profile, FOLDER/NAME.speedscope.json and FOLDER/NAME.flame.svg. The command itself is
    not pinned (give it `taskset` in `argv` for that). Without py-spy or ptrace it runs all the
    same, and the profile says why there is none. Past `timeout_s` it is killed and
    `subprocess.TimeoutExpired` raised."""
    process = subprocess.Popen(
        list(argv), cwd=cwd, env=None if env is None else dict(env), text=True,
        stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Attached once the command runs, so its first few tens of ms go unsampled: `py-spy record
    # -- argv` would sample those, but mixes its own lines into the command's output.
    recording = Recording(process.pid, SamplingPlan(folder, name, executable), cores)
    recording.start()
    try:
        stdout, stderr = process.communicate(input, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        recording.stop()
        raise
    return (subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr),
            recording.stop())
