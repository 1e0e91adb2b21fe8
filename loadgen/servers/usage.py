"""A server's CPU and memory while it is loaded, sampled from its whole process tree.

CPU time (user + system) is the least noisy figure a run has: divided by the requests served,
it does not depend on how fast the client was. Samples are taken once a second, at the start
and end, and at the instants the measured window opens and closes, once they are known: the
window's share was once interpolated between samples a second apart, which put part of the
preflight's and the warm-up's CPU into the window and made two identical apps differ by 10%
in one-second trials.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil

from loadgen.results.measured import Sample

SAMPLE_INTERVAL_S = 1.0


def cpu_seconds(process: psutil.Process) -> float:
    """The process's CPU time so far. Linux's /proc/PID/stat counts it in ticks of 10 ms, which
    is a quarter of what a one-second trial at a few hundred requests a second uses: the
    scheduler's own count in ns (/proc/PID/task/TID/schedstat, summed over the threads) is used
    where there is one. It leaves out threads that have exited, which a server's rarely do
    within a trial."""
    home = Path(f"/proc/{process.pid}")
    if not (home / "schedstat").exists():  # not Linux, or a kernel without schedstats
        times = process.cpu_times()
        return float(times.user + times.system)
    total = 0
    try:
        tasks = list((home / "task").iterdir())
    except FileNotFoundError:
        raise psutil.NoSuchProcess(process.pid) from None
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except FileNotFoundError:  # a thread that has just exited
            continue
    return total / 1e9


def sample_tree(root: psutil.Process) -> Sample:
    cpu = rss = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            cpu += cpu_seconds(process)
            rss += process.memory_info().rss
        except psutil.NoSuchProcess:  # a worker that just exited
            continue
    return Sample(time.time(), cpu, rss / 2**20)


class UsageSampler:
    """Samples a process tree in a background thread until stopped."""

    def __init__(self, pid: int, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self._root = psutil.Process(pid)
        self._interval_s = interval_s
        self._samples: list[Sample] = []
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by also_at and stop: the wait is cut short
        self._lock = threading.Lock()
        self._marks: list[float] = []  # instants still to sample at
        self._thread = threading.Thread(target=self._loop, name="usage-sampler", daemon=True)

    def start(self) -> None:
        self._take()
        self._thread.start()

    def also_at(self, *instants: float) -> None:
        """Take a sample at each of these instants (seconds since the epoch) as well."""
        with self._lock:
            self._marks = sorted([*self._marks, *instants])
        self._wake.set()

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self._take()
        return self._samples

    def _take(self) -> None:
        try:
            self._samples.append(sample_tree(self._root))
        except psutil.NoSuchProcess:  # the server died: keep what was sampled
            self._stop.set()

    def _loop(self) -> None:
        due = time.time() + self._interval_s
        while not self._stop.is_set():
            with self._lock:
                mark = self._marks[0] if self._marks else None
            wait = min(due, mark if mark is not None else due) - time.time()
            if wait > 0 and self._wake.wait(wait):
                self._wake.clear()
                continue  # new marks, or stopped: look again
            self._take()
            now = time.time()
            with self._lock:
                self._marks = [m for m in self._marks if m > now]
            if now >= due:
                due += self._interval_s


def generator_connected(pid: int) -> bool:
    """Whether a process in the tree of `pid` (itself, or a server it started) has a
    connection made to a port it listens on: a load is reaching a server there."""
    for process in (psutil.Process(pid), *psutil.Process(pid).children(recursive=True)):
        try:
            conns = process.net_connections("tcp")
        except psutil.NoSuchProcess:
            continue
        ports = {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}
        if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port in ports for c in conns):
            return True
    return False
