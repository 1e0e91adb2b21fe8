"""Run workers locally, in this process or in several pinned processes, and merge their results.

Every worker runs the same `engine.Worker` unchanged; this module only places them, starts them
at one agreed instant and collects what they return.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event
from typing import Any

import uvloop

from loadgen.cpus import available, format_cores, parse, pinned, split
from loadgen.engine.limits import ensure_open_files
from loadgen.engine.plan import IntervalSink, Load, WorkerPlan
from loadgen.engine.worker import Worker
from loadgen.errors import LoadgenError
from loadgen.measure.cluster import run_on_cluster
from loadgen.results.measured import Interval, MissingWorker, WorkerResult
from loadgen.results.run import RunResult
from loadgen.workloads.profile import LoadProfile, Share
from loadgen.workloads.request import Endpoint, RequestTemplate

# How far ahead of "everyone is connected" the workers are told to start, so none starts late.
START_LEAD_S = 0.2
READY_TIMEOUT_S = 30.0

StartSink = Callable[[float], None]  # told the agreed start instant (seconds since the epoch)


@dataclass(frozen=True)
class Placement:
    """The cores the generator runs on, and the server's if loadgen started it; or the Dask
    scheduler whose workers run the generator's processes instead (loadgen.measure.cluster)."""

    generator: tuple[int, ...]
    server: tuple[int, ...] | None = None
    cluster: str | None = None

    @classmethod
    def apart(cls, processes: int = 1, cpu_list: str | None = None,
              cluster: str | None = None) -> Placement:
        """The server and the generator on disjoint cores: the generator's `processes` on the
        last cores and the server on the rest (cpus.split); or the generator on `cpu_list`
        (e.g. 2-3) and the server on every other core, on the same ones when none is left."""
        server, generator = split(processes)
        if cpu_list is not None:
            generator = parse(cpu_list)
            server = tuple(c for c in available() if c not in generator) or generator
        return cls(generator, server, cluster)

    @property
    def cores_text(self) -> str:
        """Where the two run, as the commands' first lines say it."""
        return (f"server on core(s) {format_cores(self.server or ())}, loadgen on "
                f"{format_cores(self.generator)}")


def plans(load: Load) -> list[WorkerPlan]:
    """One plan per process: connections spread as evenly as they go, the schedule split."""
    n, connections = load.profile.processes, load.profile.connections
    return [WorkerPlan(load, connections // n + (1 if k < connections % n else 0), Share(k, n))
            for k in range(n)]


def _result(load: Load, results: list[WorkerResult], generator: tuple[int, ...],
            server: tuple[int, ...] | None, missing: list[MissingWorker]) -> RunResult:
    return RunResult(load.target or load.endpoint.where, load.profile, results,
                     generator, server, missing,
                     expected_status={t.kind: t.expect.status for t in load.templates})


def run_load(
    endpoint: Endpoint,
    templates: tuple[RequestTemplate, ...],
    profile: LoadProfile,
    placement: Placement,
    on_interval: IntervalSink | None = None,
    target: str = "",
    mix: tuple[int, ...] = (),
    check_every: int = 100,
    flow: tuple[str, tuple[tuple[str, Any], ...]] | None = None,
    on_start: StartSink | None = None,
) -> RunResult:
    """Run the load and return the merged result. Ctrl-C ends the run early, with a result.

    `mix` orders the templates (weights), and every `check_every`-th request of it has its
    response checked in full. With `flow`, each connection runs that scenario's flow.
    `on_start` is told the instant the workers start (the warm-up's start), once connected."""
    load = Load(endpoint, templates, profile, target, mix, check_every, flow)
    worker_plans = plans(load)
    missing: list[MissingWorker] = []
    if placement.cluster is None:
        ensure_open_files(max(p.connections for p in worker_plans), profile.connections)
    if placement.cluster is not None:
        results, missing = run_on_cluster(placement.cluster, worker_plans, on_start)
    elif len(worker_plans) == 1:
        results = _run_here(worker_plans, placement.generator, on_interval, on_start)
    else:
        by_index, missing = _run_processes(worker_plans, placement.generator, on_interval,
                                           on_start)
        results = [by_index[k] for k in sorted(by_index)]
    # On a cluster this machine's cores run no load; each worker's cores are in its result.
    generator = () if placement.cluster is not None else placement.generator
    return _result(load, results, generator, placement.server, missing)


def run_together(loads: list[Load], placement: Placement, on_start: StartSink | None = None
                 ) -> list[RunResult]:
    """Run the loads at once (each against its own endpoint), all started at one agreed
    instant; a result for each. Loads of one process each share an event loop here (no
    process to spawn); otherwise each process of each load is one of its own on the
    generator's cores. Ctrl-C ends them all early, with results."""
    groups = [plans(load) for load in loads]
    flat = [plan for group in groups for plan in group]
    ensure_open_files(sum(p.connections for p in flat),
                      max(load.profile.connections for load in loads))
    missing: list[MissingWorker] = []
    if len(flat) == len(loads):
        by_index = dict(enumerate(_run_here(flat, placement.generator, None, on_start)))
    else:
        by_index, missing = _run_processes(flat, placement.generator, None, on_start)
    outcomes, first = [], 0
    for load, group in zip(loads, groups, strict=True):
        mine = range(first, first + len(group))
        outcomes.append(_result(
            load, [by_index[k] for k in mine if k in by_index], placement.generator,
            placement.server,
            [replace(m, index=m.index - first) for m in missing if m.index in mine]))
        first += len(group)
    return outcomes


def _run_here(worker_plans: list[WorkerPlan], cores: tuple[int, ...],
              on_interval: IntervalSink | None, on_start: StartSink | None
              ) -> list[WorkerResult]:
    """The plans' workers on one event loop in this process, on the first core: all start
    at one instant once all are connected. Several share the loop well only when they take
    turns (a paired trial's)."""
    workers = [Worker(plan, on_interval) for plan in worker_plans]

    async def main() -> list[WorkerResult]:
        loop = asyncio.get_running_loop()
        agreed: asyncio.Future[float] = loop.create_future()
        connected = 0

        async def gate() -> float:
            nonlocal connected
            connected += 1
            if connected == len(workers):
                start = time.time() + (START_LEAD_S if len(workers) > 1 else 0.0)
                if on_start is not None:
                    on_start(start)
                agreed.set_result(start)
            return await agreed

        def stop() -> None:
            for worker in workers:
                worker.stop()

        handled = threading.current_thread() is threading.main_thread()
        if handled:
            loop.add_signal_handler(signal.SIGINT, stop)
        try:
            return list(await asyncio.gather(*(worker.run(gate) for worker in workers)))
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)

    with pinned(cores[:1]), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(main())
    return [replace(result, cpus=cores[:1]) for result in results]


def _child(index: int, plan: WorkerPlan, cores: tuple[int, ...], messages: Any, go: Event,
           start_at: Any, stop: Event) -> None:
    """Worker process `index`: connect, say ready, start at the agreed instant, send the
    result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into `stop`
    os.sched_setaffinity(0, cores)

    async def gate() -> float:
        messages.put(("ready", index, None))
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        return float(start_at.value)

    def forward(interval: Interval) -> None:
        messages.put(("interval", index, interval))

    worker = Worker(plan, forward, stop.is_set)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(worker.run(gate))
    except LoadgenError as exc:
        messages.put(("error", index, str(exc)))
        return
    messages.put(("result", index, replace(result, cpus=cores)))


def _run_processes(
    worker_plans: list[WorkerPlan], cores: tuple[int, ...], on_interval: IntervalSink | None,
    on_start: StartSink | None,
) -> tuple[dict[int, WorkerResult], list[MissingWorker]]:
    """The plans' results by their position in `worker_plans`, and the workers that ended
    without one."""
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    procs = [
        ctx.Process(target=_child, daemon=True,
                    args=(k, plan, (cores[k % len(cores)],), messages, go, start_at, stop))
        for k, plan in enumerate(worker_plans)
    ]
    # The parent turns Ctrl-C into `stop`. The children are started with SIGINT blocked, a
    # mask they keep across exec: a Ctrl-C to the terminal's process group would otherwise
    # interrupt each one's start-up with a traceback. They ignore it once running (_child);
    # the parent's own, held while they start, arrives when it unblocks.
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for proc in procs:
                proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        _wait_ready(procs, messages, stop)
        start_at.value = time.time() + START_LEAD_S
        go.set()
        if on_start is not None:
            on_start(start_at.value)
        return _collect(procs, messages, on_interval)
    finally:
        signal.signal(signal.SIGINT, previous)
        stop.set()
        go.set()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


def _wait_ready(procs: list[Any], messages: Any, stop: Event) -> None:
    """Until every worker has connected. Ctrl-C (`stop`) meanwhile is KeyboardInterrupt, as
    anywhere before the load; a worker that died is an error at once."""
    ready: set[int] = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(ready) < len(procs):
        if stop.is_set():
            raise KeyboardInterrupt
        dead = [k for k, proc in enumerate(procs) if k not in ready and proc.exitcode is not None]
        if dead:
            raise LoadgenError(f"worker process {dead[0]} exited (code {procs[dead[0]].exitcode}) "
                               "before it connected")
        if time.monotonic() > deadline:
            raise LoadgenError(f"worker processes did not connect within {READY_TIMEOUT_S:g} s")
        try:
            kind, index, payload = messages.get(timeout=0.2)
        except queue.Empty:
            continue
        if kind == "error":
            raise LoadgenError(payload)
        ready.add(index)


def _collect(procs: list[Any], messages: Any, on_interval: IntervalSink | None,
             ) -> tuple[dict[int, WorkerResult], list[MissingWorker]]:
    results: dict[int, WorkerResult] = {}
    dead: dict[int, int | None] = {}
    pending = set(range(len(procs)))
    while pending:
        try:
            kind, index, payload = messages.get(timeout=0.5)
        except queue.Empty:
            # A process that has exited and whose queue has been drained is gone for good.
            for k in list(pending):
                if not procs[k].is_alive():
                    dead[k] = procs[k].exitcode
                    pending.discard(k)
            continue
        if kind == "interval" and on_interval is not None:
            on_interval(payload)
        elif kind == "result":
            results[index] = payload
            pending.discard(index)
    return results, [MissingWorker(k, code) for k, code in sorted(dead.items())]

