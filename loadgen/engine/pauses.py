"""Pauses of the machine (or of the generator's whole process), seen from inside the generator.

A pause stops the server and the generator alike: a host that takes the virtual CPU away
(steal), a SIGSTOP, a suspended laptop. It is neither the generator's overload nor the server's
slowness, and it must not be taken for either (BENCHMARKING.md, section 6).

A watchdog thread sleeps PERIOD at a time and sees how late it wakes. A late wake has three
causes, told apart by the scheduler's own accounts (/proc/PID/task/TID/schedstat: time on a
CPU, and time runnable but waiting for one):
- the event loop's thread was running: the watchdog waited for the GIL, the generator is busy;
- the watchdog or the loop's thread waited for the core behind another process: the core is
  shared, which is the generator's environment failing it, not a pause;
- neither: no thread of the process ran or waited to run. The process was stopped, or the
  host did not run this virtual CPU. That part of the lateness is a pause.
Stolen time is not counted as run time (the kernel's paravirtual steal accounting), so a pause
taken by the host while the loop's thread was running still shows. Steal of every core is read
from /proc/stat as well, for the per-second series.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from time import perf_counter_ns

from loadgen.engine.schedule import NS

PERIOD_NS = 10_000_000
# Lateness of the watchdog's wake that no thread's running or waiting accounts for, from which it
# counts as a pause. A sleep of 10 ms overshoots by tens of µs on an idle machine.
PAUSE_MIN_NS = 1_000_000
_USER_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Pause:
    """A stretch of wall time (perf_counter_ns) in which the process was held still for about
    `length_ns`: the stretch is the watchdog's whole late sleep, so it covers the pause."""

    start_ns: int
    end_ns: int
    length_ns: int


class ThreadClock:
    """The scheduler's account of one thread: (ns on a CPU, ns runnable waiting for one)."""

    def __init__(self, tid: int) -> None:
        # Linux's, like the engine's timerfd; opened once, read with pread at offset 0.
        self._fd = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)

    def read(self) -> tuple[int, int]:
        run, wait, _ = os.pread(self._fd, 128, 0).split()
        return int(run), int(wait)

    def close(self) -> None:
        os.close(self._fd)


def read_steal_ns() -> dict[int, int]:
    """Each core's stolen time so far, from /proc/stat (in ticks of 1/USER_HZ s)."""
    steal: dict[int, int] = {}
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if not line.startswith(b"cpu") or line[3:4] == b" ":
                if steal:
                    break  # the cpuN lines are together at the top
                continue
            fields = line.split()
            steal[int(fields[0][3:])] = int(fields[8]) * 1_000_000_000 // _USER_HZ
    return steal


class PauseWatch:
    """The watchdog thread. Start it from the thread that runs the event loop."""

    def __init__(self) -> None:
        self.pauses: list[Pause] = []
        # Steal of each core, (perf_counter_ns, cumulative ns) each time it grew.
        self.steal: dict[int, list[tuple[int, int]]] = {}
        self.covered_ns = 0  # every pause before this instant is in `pauses`
        self._final_wait = 0
        self._loop_clock = ThreadClock(threading.get_native_id())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pause-watch", daemon=True)

    def start(self) -> None:
        now = perf_counter_ns()
        self.steal = {core: [(now, ns)] for core, ns in read_steal_ns().items()}
        self.covered_ns = now
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; `pauses` then covers everything until now."""
        self._stop.set()
        self._thread.join()
        self._final_wait = self._loop_clock.read()[1]
        self._loop_clock.close()

    def loop_wait_ns(self) -> int:
        """How long the event loop's thread has been runnable but waiting for its core: other
        processes on it. Its last figure once stopped."""
        return self._final_wait if self._stop.is_set() else self._loop_clock.read()[1]

    def _watch(self) -> None:
        own = ThreadClock(threading.get_native_id())
        before = perf_counter_ns()
        accounts = self._loop_clock.read(), own.read()
        while not self._stop.wait(PERIOD_NS / 1e9):
            now = perf_counter_ns()
            (run, wait), (_, own_wait) = latest = self._loop_clock.read(), own.read()
            (run0, wait0), (_, own_wait0) = accounts
            late = now - before - PERIOD_NS
            held = late - (run - run0) - (wait - wait0) - (own_wait - own_wait0)
            if held >= PAUSE_MIN_NS:
                self.pauses.append(Pause(before, now, held))
            self._note_steal(now)
            self.covered_ns = now
            before, accounts = now, latest
        self._note_steal(perf_counter_ns())
        self.covered_ns = perf_counter_ns()
        own.close()

    def _note_steal(self, now: int) -> None:
        for core, ns in read_steal_ns().items():
            seen = self.steal.setdefault(core, [(now, ns)])
            if ns > seen[-1][1]:
                seen.append((now, ns))


def overlap_ns(pauses: list[Pause], start: int, end: int) -> int:
    """How much of [start, end] the pauses cover (they do not overlap each other)."""
    return sum(max(0, min(end, p.end_ns) - max(start, p.start_ns)) for p in pauses)


def steal_between(samples: list[tuple[int, int]], start: int, end: int) -> int:
    """The stolen ns of one core between two instants, from its growth samples: each growth
    is put at the instant it was seen."""
    def at(instant: int) -> int:
        value = samples[0][1]
        for seen, ns in samples:
            if seen > instant:
                break
            value = ns
        return value

    return at(end) - at(start)


def window_pauses(watch: PauseWatch, start_ns: int) -> list[tuple[float, float]]:
    """The pauses since `start_ns` (the measured window's start), as (start, length) in s after
    it; each put at the end of its stretch, where the watchdog woke and so where it ended."""
    return [(max(0, p.end_ns - p.length_ns - start_ns) / NS, p.length_ns / NS)
            for p in watch.pauses if p.end_ns > start_ns]


def steal_per_second(watch: PauseWatch, start_ns: int, end_ns: int) -> dict[int, tuple[float, ...]]:
    """Each watched core's stolen ms in each second from `start_ns` to `end_ns`."""
    seconds = -(-(end_ns - start_ns) // NS)
    return {core: tuple(steal_between(samples, start_ns + i * NS, start_ns + (i + 1) * NS) / 1e6
                        for i in range(seconds))
            for core, samples in watch.steal.items()}


class CpuShare:
    """The generator's CPU time and its time waiting for its core, each over the time the
    process could run: a pause is nobody's CPU time, so it is taken out."""

    def __init__(self, watch: PauseWatch) -> None:
        self._watch = watch
        self._start: tuple[float, int, int] | None = None  # CPU s, perf_counter_ns, waited ns
        self.fraction = self.core_wait_fraction = 0.0

    def start(self) -> None:
        self._start = time.process_time(), perf_counter_ns(), self._watch.loop_wait_ns()

    def stop(self, now: int, pauses: list[tuple[float, float]]) -> None:
        if self._start is None or now <= self._start[1]:
            return
        cpu_s, start, wait = self._start
        unpaused = now - start - int(sum(length for _, length in pauses) * NS)
        if unpaused > 0:
            self.fraction = (time.process_time() - cpu_s) * NS / unpaused
            self.core_wait_fraction = (self._watch.loop_wait_ns() - wait) / unpaused
