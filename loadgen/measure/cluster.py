"""The load from several machines: engine workers run as tasks on a Dask distributed cluster
(`dask scheduler` and `dask worker` on the generator machines), which users already start on a
laptop, VMs, Kubernetes or a batch system; we do not run a coordinator of our own.

Each task is the engine's worker unit, unchanged: it connects, waits for the start instant
agreed before any task was sent (a few seconds ahead, so no worker starts late; the machines'
clocks must agree, as NTP keeps them), loads its share of the connections and of the schedule,
and returns its result, whose histograms merge exactly. Each task is pinned to one Dask worker
and never moved: a share run late would be a different load. A worker that dies (leaves the
cluster), or does not answer by the end of the run and its drain, is reported by name and its
share counted as missing; the result says it is partial. Ctrl-C sets a Dask Event that every
task watches, so the tasks end their windows early and their results still come back, marked
interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import uvloop

from loadgen.engine.plan import WorkerPlan
from loadgen.engine.worker import Worker
from loadgen.errors import LoadgenError
from loadgen.results.measured import MissingWorker, WorkerResult

START_LEAD_S = 3.0  # time for every task to reach its worker and connect
CONNECT_TIMEOUT_S = 10.0
GRACE_S = 15.0  # after the run and its drain, how long a result may still take to arrive
WATCH_S = 0.5  # how often a task's watcher looks again for the stop event
POLL_S = 1.0  # how often the client looks for workers that left the cluster


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:  # an optional extra
        raise LoadgenError("--cluster needs Dask: pip install 'loadgen[cluster]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise LoadgenError(f"cannot reach the Dask scheduler at {address}: "
                           f"{exc.__class__.__name__}") from None


def run_task(plan: WorkerPlan, start_at: float, stop_event: str) -> WorkerResult:
    """One engine worker, in a Dask worker's thread: its own event loop, started at
    `start_at`, its window ended early once the cluster's Event `stop_event` is set."""
    from distributed import Event, get_client

    # The worker's client, fetched in the task's thread: the watcher's thread has none.
    stop = Event(stop_event, get_client())  # type: ignore[no-untyped-call]
    stopped, finished = threading.Event(), threading.Event()

    def watch() -> None:  # off the engine's loop: waiting on the scheduler takes a round trip
        while not finished.is_set():
            if stop.wait(WATCH_S):  # type: ignore[no-untyped-call]
                stopped.set()
                return

    async def gate() -> float:
        return start_at

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(Worker(plan, should_stop=stopped.is_set).run(gate))
        # The cores the Dask worker may use: all of its machine's, unless it was pinned.
        return replace(result, cpus=tuple(sorted(os.sched_getaffinity(0))))
    finally:
        finished.set()
        watcher.join()


def run_on_cluster(address: str, worker_plans: list[WorkerPlan],
                   on_start: Callable[[float], None] | None = None,
                   ) -> tuple[list[WorkerResult], list[MissingWorker]]:
    """The plans as tasks on the cluster at `address`, one per Dask worker in turn; the
    results that came back and the workers that did not. The same contract as the local
    runner's processes."""
    with _client(address) as client:
        from distributed import Event  # importable: _client has imported the package

        workers = sorted(client.nthreads())
        if not workers:
            raise LoadgenError(f"the Dask cluster at {address} has no workers")
        placed = [workers[k % len(workers)] for k in range(len(worker_plans))]
        stop = Event(f"loadgen-stop-{uuid.uuid4().hex}", client)  # type: ignore[no-untyped-call]
        start_at = time.time() + START_LEAD_S
        tasks = [(client.submit(run_task, plan, start_at, stop.name, workers=[where],
                                allow_other_workers=False, pure=False, retries=0), where)
                 for plan, where in zip(worker_plans, placed, strict=True)]
        if on_start is not None:
            on_start(start_at)
        profile = worker_plans[0].load.profile
        deadline = (start_at + profile.warmup_s + profile.duration_s + profile.timeout_s
                    + GRACE_S)
        try:
            left = _wait_until(client, tasks, deadline)
        except KeyboardInterrupt:  # end every window now; the results still come back
            stop.set()  # type: ignore[no-untyped-call]
            left = _wait_until(client, tasks, time.time() + profile.timeout_s + GRACE_S)
        finally:
            stop.set()  # type: ignore[no-untyped-call]
        return _collect(tasks, left)


def _wait_until(client: Any, tasks: list[tuple[Any, str]], deadline: float) -> set[str]:
    """Until every task is done, its worker has left the cluster, or `deadline` (what has not
    come back by then is missing); the workers that left. A task pinned to a worker that left
    can never finish, so it is not waited for. A task that could not reach the server fails
    the run at once, as a local process does."""
    from distributed import wait

    left: set[str] = set()
    pending = tasks
    while pending and time.time() < deadline:
        with contextlib.suppress(TimeoutError):
            wait([future for future, _ in pending],  # type: ignore[no-untyped-call]
                 timeout=min(POLL_S, max(0.0, deadline - time.time())),
                 return_when="FIRST_COMPLETED")
        for future, where in pending:
            if future.status == "error" and isinstance(future.exception(), LoadgenError):
                raise LoadgenError(f"{future.exception()} (from the Dask worker {where})")
        present = client.nthreads()
        left |= {where for future, where in pending
                 if future.status == "pending" and where not in present}
        pending = [(future, where) for future, where in pending
                   if future.status == "pending" and where not in left]
    return left


def _collect(tasks: list[tuple[Any, str]], left: set[str],
             ) -> tuple[list[WorkerResult], list[MissingWorker]]:
    results, missing = [], []
    for k, (future, where) in enumerate(tasks):
        if future.status == "finished":
            results.append(replace(future.result(), where=where))
            continue
        if future.status != "pending":
            why = f"{future.status}: {future.exception()!r}"[:200]
        else:
            why = "the worker left the cluster" if where in left \
                else "no result by the end of the run"
        missing.append(MissingWorker(k, None, where, why))
        future.cancel()
    return results, missing
