"""The generator's verdict on itself: whether a run measured the server rather than the
generator, whether the machine paused, whether the server pushed back.

The self-check tells three causes apart (BENCHMARKING.md, sections 1 and 6); only the first
leaves a trial out of verdicts.
1. The generator could not keep up. It sent late although connections were free: more than
   LATE_SHARE of its sends, and at least LATE_MIN of them (a share of a few dozen sends says
   nothing), each late by over LATE_NS beyond any pause. Or its core was saturated: its own
   CPU plus its waiting for the core behind other processes, over the time it was not paused.
   Or it sent fewer than RATE_FLOOR of the planned requests although almost none had to wait
   for a connection.
2. The machine paused (loadgen.engine.pauses): reported with its length, per second; sends it
   delayed do not count against the generator.
3. The server pushed back: more than PUSHBACK_SHARE of the requests waited for a busy
   connection (leaving out those due inside a pause: a pause leaves a backlog), or writes
   waited for a full socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loadgen.results import histogram
from loadgen.results.measured import LATE_NS, WorkerResult
from loadgen.workloads.profile import LoadProfile

LATE_SHARE = 0.01
LATE_MIN = 20
RATE_FLOOR = 0.97
WAITED_CEILING = 0.01
# A generator process that keeps its core this busy reads responses late: in closed loop that
# caps the throughput, in open loop it adds to both latencies and to the queue.
CPU_CEILING = 0.95
# From this share of its time waiting for its core, the generator's core is said to be shared.
SHARED_CORE = 0.05
# Pauses of 1 ms are common on a virtual machine: a run names the machine as a cause from this
# much pause in all, or from one send it delayed.
PAUSE_REPORTED_MS = 10
PUSHBACK_SHARE = 0.05


@dataclass(frozen=True)
class GeneratorCheck:
    """How well the generator kept up, whether the machine paused, whether the server pushed
    back; and so whether the run measured the server rather than the generator."""

    intended_rps: float | None
    achieved_rps: float
    generator_lag_p99_us: int
    waited_fraction: float  # of the sends: due while every connection was busy
    waited_in_pause: int  # of those: due inside a pause
    cpu_fraction: float  # the busiest worker's, over its unpaused time
    core_wait_fraction: float  # the same worker's waiting for its core behind other processes
    sent: int
    late: int  # sends late with a connection free, beyond any pause
    late_in_pause: int  # sends late only by a pause
    pauses: tuple[tuple[float, float], ...]  # (start, length) in s after the window's start
    write_blocked: int
    write_blocked_s: float
    reasons: tuple[str, ...]  # why the generator could not keep up; empty when it did

    @property
    def bound(self) -> bool:
        return bool(self.reasons)

    @property
    def paused_s(self) -> float:
        return sum(length for _, length in self.pauses)

    @property
    def causes(self) -> list[str]:
        """What besides the server shaped the run's figures, in the self-check's words."""
        causes = ["generator"] if self.bound else []
        if self.paused_s * 1000 >= PAUSE_REPORTED_MS or self.late_in_pause:
            causes.append("machine pause")
        waited = self.waited_fraction - (self.waited_in_pause / self.sent if self.sent else 0)
        if waited > PUSHBACK_SHARE or self.write_blocked:
            causes.append("server pushback")
        return causes


def merge_pauses(pauses: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The union of several workers' pauses: a pause of the machine holds them all at once."""
    merged: list[tuple[float, float]] = []
    for start, length in sorted(pauses):
        if merged and start <= merged[-1][0] + merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], start + length - last[0]))
        else:
            merged.append((start, length))
    return tuple(merged)


def paused_in(pauses: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end) inside the pauses."""
    return sum(max(0.0, min(end, s + n) - max(start, s)) for s, n in pauses)


def check_generator(profile: LoadProfile, workers: Sequence[WorkerResult], duration_s: float,
                    requests: int, errored: bool) -> GeneratorCheck:
    """The self-check of a run of `workers` under `profile`, measured for `duration_s`, of which
    `requests` got a response; `errored`: some request failed."""
    duration = (duration_s or 1.0) * profile.turns.share  # in its turns
    open_loop = profile.open_loop
    sent = sum(w.sent for w in workers) if open_loop else requests
    busiest = max(workers, key=lambda w: w.cpu_fraction + w.core_wait_fraction, default=None)
    cpu = busiest.cpu_fraction if busiest else 0.0
    core_wait = busiest.core_wait_fraction if busiest else 0.0
    lag_p99 = int(histogram.merge(w.generator_lag for w in workers)
                  .get_value_at_percentile(99.0))
    waited = sum(w.waited for w in workers) / sent if sent else 0.0
    late = sum(w.late for w in workers)
    reasons = []
    intended_rps = None
    if open_loop:
        intended = sum(w.intended for w in workers)
        intended_rps = intended / duration
        if late >= LATE_MIN and late > LATE_SHARE * sent:
            shared = (f"; its core was shared: it waited for it {core_wait:.0%} of the time "
                      f"behind other processes" if core_wait >= SHARED_CORE else "")
            reasons.append(f"it sent {late:,} of {sent:,} requests ({late / sent:.1%}) over "
                           f"{LATE_NS / 1e6:g} ms late although connections were free, "
                           f"beyond any pause of the machine{shared}")
        if (intended and sent < RATE_FLOOR * intended and waited < WAITED_CEILING
                and not errored):
            reasons.append(f"it sent {sent / intended:.0%} of the scheduled requests "
                           f"although almost none waited for a connection")
    if cpu + core_wait >= CPU_CEILING:
        effect = ("responses may have waited to be read, so latency and queueing are "
                  "partly the generator's" if open_loop else
                  "the throughput may be the generator's limit, not the server's")
        shared = (f", {core_wait:.0%} waiting for it behind other processes"
                  if core_wait >= SHARED_CORE else "")
        reasons.append(f"its core was saturated ({cpu:.0%} its own work{shared}): {effect}")
    return GeneratorCheck(
        intended_rps, sent / duration, lag_p99, waited,
        sum(w.waited_in_pause for w in workers), cpu, core_wait, sent, late,
        sum(w.late_in_pause for w in workers),
        merge_pauses(p for w in workers for p in w.pauses),
        sum(w.write_blocked for w in workers),
        sum(w.write_blocked_s for w in workers), tuple(reasons))
