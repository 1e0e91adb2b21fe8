"""The worker unit: one process, one event loop, a share of the connections and of the schedule.

Open loop: every request has an intended send time from the schedule. Requests that fall due
while every connection is busy wait (the schedule cursor lags behind the clock, so the queue
costs no memory) and the wait counts in corrected latency. Closed loop: each connection sends its
next request as soon as the previous response is complete, so intended and actual send times
agree. Timeouts are found by a sweep every 100 ms rather than a timer per request.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from time import perf_counter_ns

from loadgen.engine.connection import Connection
from loadgen.engine.dial import Dialer
from loadgen.engine.flow import Flows
from loadgen.engine.lateness import LateSends
from loadgen.engine.pauses import CpuShare, PauseWatch, steal_per_second, window_pauses
from loadgen.engine.plan import IntervalSink, StartGate, WorkerPlan, start_now
from loadgen.engine.recording import KindTotals, Recorder, Seconds
from loadgen.engine.schedule import NS, intended_times
from loadgen.engine.slots import connections
from loadgen.engine.timer import PreciseTimer
from loadgen.results import histogram
from loadgen.results.measured import LATE_NS, WorkerResult
from loadgen.workloads.checks import Expectation, verify
from loadgen.workloads.variants import cycle_of

SWEEP_S = 0.1
INTERVAL_NS = NS


class Worker:
    """Runs one plan on the running event loop; `run` returns its result."""

    def __init__(
        self,
        plan: WorkerPlan,
        on_interval: IntervalSink | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.plan = plan
        load = plan.load
        profile = load.profile
        self._open = profile.open_loop
        self._timeout_ns = int(profile.timeout_s * NS)
        self._slack_ns = int(profile.timer_slack_s * NS)
        self._last_tick = 0
        self._should_stop = should_stop
        kinds = list(dict.fromkeys(t.kind for t in load.templates))
        self._measured = {kind: Recorder(measured=True) for kind in kinds}
        self._warm = {kind: Recorder(measured=False) for kind in kinds}
        self._totals = {kind: KindTotals() for kind in kinds}
        order = cycle_of(load.templates, load.mix, load.check_every)
        self._next_measured = itertools.cycle(
            [(t.data, self._measured[t.kind], expect) for t, expect in order]).__next__
        self._next_warm = itertools.cycle(
            [(t.data, self._warm[t.kind], expect) for t, expect in order]).__next__
        # Closed-loop connections call this for their next request; it switches at warm-up end.
        self.next_request: Callable[[], tuple[bytes, Recorder, Expectation | None]] = \
            self._next_warm
        self._flows: Flows | None = None
        if load.flow is not None:
            self._flows = Flows(load.flow, load.templates, self._measured, self._warm,
                                load.check_every, f"{profile.seed}:{plan.share.index}")
        self._conns = connections(self, load, plan.connections, self._open)
        self._idle: list[Connection] = []
        self._available_since = 0  # since when at least one connection has been idle
        self._errors: Counter[str] = Counter()
        self._lateness = LateSends()
        self._gen_lag = self._lateness.lag  # appended to on the hot path
        self._watch = PauseWatch()
        self._blocked = self._blocked_ns = 0
        self._seconds = Seconds(on_interval)
        self._dialer = Dialer(load.endpoint, profile.timeout_s)
        self._intended = self._sent = self._unsent = self._waited = self._reconnects = 0
        self._next_t: int | None = None
        self._flush_timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] | None = None
        self._reconnecting: set[asyncio.Task[None]] = set()
        self._interrupted = False
        self._cpu = CpuShare(self._watch)
        self.end_ns = self.warm_end_ns = 0

    # -- the run ---------------------------------------------------------------------------------

    async def run(self, start_gate: StartGate = start_now) -> WorkerResult:
        """Connect, wait for the gate's start instant, load, drain, and return the result."""
        self._loop = asyncio.get_running_loop()
        await self._dialer.connect_all(self._loop, self._conns)
        start_epoch = await start_gate()
        await asyncio.sleep(max(0.0, start_epoch - time.time()))
        profile = self.plan.load.profile
        self._watch.start()
        self._start_ns = perf_counter_ns()
        self.warm_end_ns = self._start_ns + int(profile.warmup_s * NS)
        self.end_ns = self.warm_end_ns + int(profile.duration_s * NS)
        if self._interrupted:  # stopped while connecting
            self.end_ns = self._start_ns
        self._window_end_ns = self.end_ns
        self._done = self._loop.create_future()
        self._loop.call_later(SWEEP_S, self._sweep)
        self._loop.call_at(self._loop_time(self.warm_end_ns), self._begin_measuring)
        self._flush_timer = self._loop.call_at(
            self._loop_time(self.warm_end_ns + INTERVAL_NS), self._flush)
        if self._flows is not None:
            self._flows.start(self, self._conns)
        elif self._open:
            self._timer = PreciseTimer(self._loop, self._tick)
            self._times = iter(intended_times(profile, self.plan.share))
            self._advance()
            self._idle = list(self._conns)
            self._available_since = self._start_ns
            self._tick()
        else:
            for conn in self._conns:
                self.on_free(conn, self._start_ns)
        await self._done
        await self._close()
        return self._result(start_epoch)

    def _loop_time(self, ns: int) -> float:
        """The event loop's clock at perf_counter time `ns`."""
        return self._loop.time() + (ns - perf_counter_ns()) / NS

    def _begin_measuring(self) -> None:
        self._cpu.start()
        if not self._open:
            # Closed loop has no schedule: the window starts when the recorders switch.
            self.warm_end_ns = perf_counter_ns()
            self.next_request = self._next_measured

    def stop(self) -> None:
        """End the window now (Ctrl-C): nothing new is scheduled, due and in-flight requests
        still complete within the drain, and the result is marked interrupted."""
        if self._done is None:
            self._interrupted = True
            return
        now = perf_counter_ns()
        if now < self.end_ns:
            self._interrupted = True
            self.end_ns = now
            if self._next_t is not None and self._next_t >= now:
                self._next_t = None
        self._maybe_done()

    # -- open-loop dispatch ----------------------------------------------------------------------

    def _dispatch(self, conn: Connection, intended: int, now: int, free: int) -> None:
        """Send the request due at `intended` on `conn`; a connection was free since `free`."""
        if intended >= self.warm_end_ns:
            data, rec, expect = self._next_measured()
            self._sent += 1
            # The generator's own lateness: time since the request was due and a connection
            # was free. Waiting for a busy connection is the server's doing, not ours.
            since = intended if intended > free else free
            self._gen_lag.append((now - since) // 1000)
            if now - since > LATE_NS:  # rare: judged off the hot path, once pauses are known
                self._lateness.late(since, now)
            if free > intended:
                self._waited += 1
                self._lateness.waited(intended, now)
        else:
            data, rec, expect = self._next_warm()
        conn.send(rec, data, intended, now, expect)

    def _advance(self) -> None:
        """Move the schedule cursor to the next intended send time inside the window."""
        t = next(self._times, None)
        if t is None or self._start_ns + t >= self.end_ns:
            self._next_t = None
            return
        self._next_t = self._start_ns + t
        if self._next_t >= self.warm_end_ns:
            self._intended += 1

    def _tick(self) -> None:
        now = self._last_tick = perf_counter_ns()
        idle = self._idle
        while idle and self._next_t is not None and self._next_t <= now:
            self._dispatch(idle.pop(), self._next_t, now, self._available_since)
            self._advance()
        self._arm()
        self._maybe_done()

    def _arm(self) -> None:
        if not self._timer.armed and self._idle and self._next_t is not None:
            # Each wake-up costs tens of µs of CPU: at high rates one wake sends a batch.
            self._timer.arm(max(self._next_t, self._last_tick + self._slack_ns))

    def on_free(self, conn: Connection, now: int) -> None:
        """A connection can take a request: the next due one, or the next in closed loop."""
        if self._flows is not None:
            return  # its flow goes on when the connection is ready again
        if self._open:
            next_t = self._next_t
            if next_t is not None and next_t <= now:
                # With idle connections about, one was free before this one.
                self._dispatch(conn, next_t, now, self._available_since if self._idle else now)
                self._advance()
                return
            if not self._idle:
                self._available_since = now
            self._idle.append(conn)
            self._arm()
        elif now < self.end_ns:
            data, rec, expect = self.next_request()
            conn.send(rec, data, now, now, expect)
            return
        else:
            self._idle.append(conn)
        self._maybe_done()

    def count_error(self, text: str) -> None:
        self._errors[text] += 1

    def check(self, conn: Connection, rec: Recorder, status: int) -> None:
        """Check a sampled response in full; what was wrong is counted for its kind."""
        assert conn.expect is not None
        problem = verify(conn.expect, status, b"".join(conn.body))
        conn.expect = None
        conn.body.clear()
        conn.restore_parser()
        rec.checked += 1
        if problem is not None:
            rec.failures[problem] += 1

    # -- failures --------------------------------------------------------------------------------

    def fail(self, conn: Connection, kind: str, drop: bool = True) -> None:
        """Count the in-flight request as failed and drop the connection (it reconnects); or,
        not `drop`, let it take the next (an HTTP/2 stream the server reset)."""
        self._count_error(conn, kind)
        if not drop:
            self.on_free(conn, perf_counter_ns())
        elif conn.transport is not None:
            conn.transport.abort()

    def _count_error(self, conn: Connection, kind: str) -> None:
        rec = conn.rec
        conn.expect = None
        conn.body.clear()
        if rec is not None:
            rec.errors[kind] += 1
            if rec.measured:
                self._errors[kind] += 1
            conn.rec = None

    def on_lost(self, conn: Connection) -> None:
        self._count_error(conn, "reset")
        if conn in self._idle:
            self._idle.remove(conn)
        if not self._finished():
            task = self._loop.create_task(self._reconnect(conn))
            self._reconnecting.add(task)
            task.add_done_callback(self._reconnecting.discard)
        self._maybe_done()

    async def _reconnect(self, conn: Connection) -> None:
        if await self._dialer.reconnect(self._loop, conn, self._finished, self._attempted):
            if self._finished():
                conn.transport.abort()  # type: ignore[union-attr]  # connected too late
            else:
                self.on_free(conn, perf_counter_ns())

    def _attempted(self, failed: bool) -> None:
        self._reconnects += 1
        if failed and perf_counter_ns() >= self.warm_end_ns:
            self._errors["connect"] += 1

    # -- time-driven housekeeping ----------------------------------------------------------------

    def _sweep(self) -> None:
        """Every 100 ms: time out slow requests, fold values, honour a stop request."""
        if self._finished():
            return
        now = perf_counter_ns()
        if self._should_stop is not None and self._should_stop():
            self.stop()
        for conn in self._conns:
            if conn.rec is not None and now - conn.sent > self._timeout_ns:
                self.fail(conn, "timeout")
        for rec in self._warm.values():
            rec.clear()
        self._fold()
        if now >= self.end_ns + self._timeout_ns:
            self._finish()  # the drain is over, whatever is still queued or in flight
            return
        self._maybe_done()
        self._loop.call_later(SWEEP_S, self._sweep)

    def _fold(self) -> None:
        """Fold raw values into the current second's histograms. Done every sweep rather than
        once a second, so that each pause of the loop stays short."""
        for kind, rec in self._measured.items():
            self._totals[kind].fold(rec, self._seconds.current)
        self._lateness.fold(self._watch.covered_ns, self._watch.pauses)

    def on_write_blocked(self, now: int) -> None:
        """A write found a connection's socket full: the server is not reading fast enough."""
        if now >= self.warm_end_ns:
            self._blocked += 1

    def on_write_resumed(self, since: int, now: int) -> None:
        """The socket took the rest of that write."""
        if since >= self.warm_end_ns:
            self._blocked_ns += now - since

    def _flush(self) -> None:
        """Close the current second: add it to the totals and hand it on. Also at the end."""
        self._fold()
        self._seconds.close()
        if not self._finished():
            self._flush_timer = self._loop.call_at(
                self._loop_time(self.warm_end_ns + (self._seconds.index + 1) * INTERVAL_NS),
                self._flush,
            )

    # -- the end ---------------------------------------------------------------------------------

    def _finished(self) -> bool:
        return self._done is None or self._done.done()

    def _maybe_done(self) -> None:
        if self._finished():
            return
        past_end = self._next_t is None if self._open else perf_counter_ns() >= self.end_ns
        if past_end and all(conn.rec is None for conn in self._conns):
            self._finish()

    def _finish(self) -> None:
        assert self._done is not None
        now = perf_counter_ns()
        # In turns the schedule may end a turn before the window does: the window is the
        # same for both schedules of a pair, since their servers are sampled over it.
        in_turns = self.plan.load.profile.turns.count > 1 and not self._interrupted
        self._window_end_ns = self.end_ns if in_turns else min(now, self.end_ns)
        self._watch.stop()
        self._lateness.fold(now, self._watch.pauses)
        self._cpu.stop(now, window_pauses(self._watch, self.warm_end_ns))
        for conn in self._conns:
            self._count_error(conn, "timeout")  # still in flight when the drain ran out
        while self._next_t is not None:  # due, or scheduled before a stop, and never sent
            if self._next_t >= self.warm_end_ns:
                self._unsent += 1
            self._advance()
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        if self._open:
            self._timer.close()
        for conn in self._conns:
            if conn.transport is not None:
                conn.transport.abort()
        self._done.set_result(None)
        self._flush()

    async def _close(self) -> None:
        """Let reconnects under way end by themselves, then close every socket, so the loop
        closes with no handle open (uvloop's loop.close() can hang on a half-made one)."""
        if self._flows is not None:
            await self._flows.stop()
        if self._reconnecting:
            await asyncio.wait(self._reconnecting)
        for conn in self._conns:
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)  # run the connection_lost callbacks

    def _result(self, start_epoch: float) -> WorkerResult:
        measured_ns = max(0, self._window_end_ns - self.warm_end_ns)
        return WorkerResult(
            share=self.plan.share,
            start_epoch_s=start_epoch,
            measured_s=measured_ns / NS,
            kinds={kind: totals.result(self._measured[kind])
                   for kind, totals in self._totals.items()},
            intervals=self._seconds.intervals,
            errors=dict(self._errors),
            intended=self._intended, sent=self._sent, unsent=self._unsent, waited=self._waited,
            reconnects=self._reconnects,
            flows=self._flows.done if self._flows is not None else 0,
            generator_lag=histogram.encode(self._lateness.lag_histogram),
            cpu_fraction=self._cpu.fraction,
            interrupted=self._interrupted,
            late=self._lateness.own, late_in_pause=self._lateness.in_pause,
            waited_in_pause=self._lateness.waited_in_pause,
            core_wait_fraction=self._cpu.core_wait_fraction,
            pauses=tuple(window_pauses(self._watch, self.warm_end_ns)),
            steal_ms=steal_per_second(self._watch, self.warm_end_ns, self._window_end_ns),
            write_blocked=self._blocked, write_blocked_s=self._blocked_ns / NS,
            handshakes=self._dialer.timed(), resumed=self._dialer.resumed,
        )

