"""A server's CPU and memory while it is loaded, sampled from its whole process tree.

CPU time (user + system) is the least noisy figure a run has: divided by the requests served,
it does not depend on how fast the client was. Samples are taken once a second and at the start
and end, and the measured window's share is interpolated between them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from itertools import pairwise

import psutil

SAMPLE_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the epoch
    cpu_s: float  # user + system CPU of the process tree so far
    rss_mb: float  # resident memory of the process tree


def sample_tree(root: psutil.Process) -> Sample:
    cpu = rss = 0.0
    for process in (root, *root.children(recursive=True)):
        try:
            times = process.cpu_times()
            cpu += times.user + times.system
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
        self._thread = threading.Thread(target=self._loop, name="usage-sampler", daemon=True)

    def start(self) -> None:
        self._take()
        self._thread.start()

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join()
        self._take()
        return self._samples

    def _take(self) -> None:
        try:
            self._samples.append(sample_tree(self._root))
        except psutil.NoSuchProcess:  # the server died: keep what was sampled
            self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._take()


def cpu_at(samples: list[Sample], at: float) -> float:
    """The tree's CPU seconds at instant `at`, interpolated linearly between samples."""
    if at <= samples[0].at:
        return samples[0].cpu_s
    for before, after in pairwise(samples):
        if before.at <= at <= after.at:
            share = (at - before.at) / (after.at - before.at) if after.at > before.at else 1.0
            return before.cpu_s + share * (after.cpu_s - before.cpu_s)
    return samples[-1].cpu_s
