"""The generator's self-check, made to face each of its three causes on purpose: an idle
machine (no flag), a generator core shared with CPU hogs (flagged as the generator), and a
300 ms SIGSTOP of the whole generator process (reported as a pause, the trial kept). Also the
figures the test suite leaves to a benchmark: the achieved rate against the schedule and the
precise timer's lateness. uvicorn serves the raw target on the server's core."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from time import perf_counter_ns

import uvloop

from loadgen import cpus
from loadgen.engine.timer import PreciseTimer
from loadgen.measure.runner import Placement, run_load
from loadgen.results.measured import Interval
from loadgen.results.run import RunResult
from loadgen.servers.launchers import ServerProcess, ServerSpec, running_server
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.request import get_template

SERVER, GENERATOR = cpus.split()
HOGS = 3  # busy loops at the generator's own priority: it gets a quarter of its core


@contextmanager
def hogs(count: int) -> Iterator[None]:
    """`count` CPU hogs pinned to the generator's core, ended for sure."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                              preexec_fn=lambda: os.sched_setaffinity(0, GENERATOR))
             for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def stop_for(seconds: float) -> Callable[[Interval], None]:
    """An interval hook that SIGSTOPs this whole process in its second second, and a shell
    that SIGCONTs it `seconds` later."""
    def hook(interval: Interval) -> None:
        if interval.index == 1:
            subprocess.Popen(["sh", "-c", f"sleep {seconds}; kill -CONT {os.getpid()}"])
            os.kill(os.getpid(), signal.SIGSTOP)
    return hook


def load(server: ServerProcess, rate: float, hook: Callable[[Interval], None] | None = None,
         ) -> RunResult:
    endpoint = server.endpoint
    return run_load(endpoint, (get_template(endpoint, "/plaintext"),),
                    LoadProfile.constant(rate, 5.0, warmup_s=1.0),
                    Placement(GENERATOR, SERVER), on_interval=hook)


def describe(case: str, result: RunResult, expected: list[str]) -> None:
    check = result.check_generator()
    causes = check.causes
    longest = max((length for _, length in check.pauses), default=0.0)
    print(f"{case:<28} causes {causes or ['none']} (expected {expected or ['none']}: "
          f"{'yes' if causes == expected else 'NO'})")
    print(f"{'':<28} late {check.late:,} of {check.sent:,} sends, CPU {check.cpu_fraction:.0%}"
          f", core wait {check.core_wait_fraction:.0%}, pauses {len(check.pauses)} "
          f"({check.paused_s * 1000:.0f} ms in all, longest {longest * 1000:.0f} ms), "
          f"{check.late_in_pause:,} sends late by a pause; left out: "
          f"{'yes' if check.bound else 'no'}")
    for reason in check.reasons:
        print(f"{'':<28} reason: {reason}")


def timer_lateness_us(samples: int = 200) -> float:
    """The median lateness of the precise timer armed 0.3 ms ahead, in µs."""
    lateness: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        target = 0

        def fired() -> None:
            nonlocal target
            lateness.append(perf_counter_ns() - target)
            if len(lateness) == samples:
                done.set_result(None)
                return
            target = perf_counter_ns() + 300_000
            timer.arm(target)

        timer = PreciseTimer(loop, fired)
        target = perf_counter_ns() + 300_000
        timer.arm(target)
        await done
        timer.close()

    with cpus.pinned(GENERATOR):
        uvloop.run(main())
    return statistics.median(lateness) / 1000


def main() -> None:
    print(f"server on core(s) {cpus.format_cores(SERVER)}, generator on core(s) "
          f"{cpus.format_cores(GENERATOR)}; uvicorn, raw target, /plaintext, 5 s windows")
    with TemporaryDirectory() as tmp, running_server(
            ServerSpec("uvicorn", "raw_app:app", cpus=SERVER,
                       log_path=Path(tmp) / "server.log")) as server:
        idle = load(server, 2000)
        describe("idle, 2,000 req/s", idle, [])
        achieved = idle.check_generator()
        print(f"{'':<28} achieved {achieved.achieved_rps:,.1f} of "
              f"{achieved.intended_rps or 0:,.1f} req/s scheduled")
        with hogs(HOGS):
            describe(f"{HOGS} hogs on its core, 4,000/s", load(server, 4000), ["generator"])
        describe("SIGSTOP 300 ms, 2,000 req/s", load(server, 2000, stop_for(0.3)),
                 ["machine pause"])
    print(f"precise timer armed 0.3 ms ahead: median {timer_lateness_us():.0f} µs late "
          f"(the loop's own timers tick in ms)")


if __name__ == "__main__":
    main()
