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
import random
import socket
import time
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

from loadgen import histogram
from loadgen.checks import Expectation, verify
from loadgen.connection import ClosedLoopConnection, Connection
from loadgen.errors import LoadgenError
from loadgen.flow import Flow, FlowConnection, FlowEnded, Session
from loadgen.pauses import Pause, PauseWatch, overlap_ns, steal_between
from loadgen.profile import LoadProfile
from loadgen.recording import KindResult, KindTotals, Recorder
from loadgen.request import Endpoint, RequestTemplate
from loadgen.scenario import load_scenario
from loadgen.schedule import NS, Share, intended_times
from loadgen.timer import PreciseTimer

SWEEP_S = 0.1
INTERVAL_NS = NS
# A connection lost before it gave a complete response, or a connect that failed, waits
# before the next attempt: 10 ms, doubling with each such failure in a row up to 1 s, less a
# random part of up to half so that connections do not retry in step. Against a server that
# closed every connection at once, 64 connections with no wait made 34,800 attempts in 2 s.
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.01, 1.0
# A send this much later than "due, and a connection free" is late: the generator's fault,
# unless a pause of the machine covers the lateness.
LATE_NS = 5_000_000


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker does: its share of the connections and of the schedule."""

    endpoint: Endpoint
    templates: tuple[RequestTemplate, ...]
    profile: LoadProfile
    connections: int
    share: Share = field(default_factory=Share)
    mix: tuple[int, ...] = ()  # the order of template indices to cycle through; () is in order
    check_every: int = 100  # check every Nth response of the mix in full; 0 never
    # Closed loop by flows: (scenario file, parameter values); loaded again in each worker
    # process, since a function from a file loaded by path does not pickle.
    flow: tuple[str, tuple[tuple[str, Any], ...]] | None = None


@dataclass(frozen=True)
class Interval:
    """One second of the measured window, all request kinds together."""

    index: int
    requests: int
    corrected: str
    uncorrected: str


@dataclass
class WorkerResult:
    """Everything a worker measured, in a form that pickles and merges exactly."""

    share: Share
    start_epoch_s: float
    measured_s: float
    kinds: dict[str, KindResult]
    intervals: list[Interval]
    errors: dict[str, int]
    intended: int
    sent: int
    unsent: int
    waited: int
    reconnects: int
    flows: int  # multi-step flows run to their end
    generator_lag: str
    cpu_fraction: float  # CPU time over unpaused wall time, window start to drain end
    interrupted: bool
    cpus: tuple[int, ...] = field(default=())
    where: str = ""  # the Dask worker that ran it, on a cluster
    # The self-check's counts (see loadgen.pauses and result.check_generator):
    late: int = 0  # sends late by more than LATE_NS that no pause explains
    late_in_pause: int = 0  # sends as late, all but LATE_NS of it inside a pause
    waited_in_pause: int = 0  # of the sends that waited for a connection: due inside a pause
    core_wait_fraction: float = 0.0  # runnable but waiting for its core, over unpaused time
    pauses: tuple[tuple[float, float], ...] = ()  # (start, length) in s after the window start
    steal_ms: dict[int, tuple[float, ...]] = field(default_factory=dict)  # core -> per second
    write_blocked: int = 0  # requests whose write found the socket full (the server's doing)
    write_blocked_s: float = 0.0  # the time they waited for it


StartGate = Callable[[], Awaitable[float]]
IntervalSink = Callable[[Interval], None]


async def _start_now() -> float:
    return time.time()


class Worker:
    """Runs one plan on the running event loop; `run` returns its result."""

    def __init__(
        self,
        plan: WorkerPlan,
        on_interval: IntervalSink | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.plan = plan
        profile = plan.profile
        self._open = profile.open_loop
        self._timeout_ns = int(profile.timeout_s * NS)
        self._slack_ns = int(profile.timer_slack_s * NS)
        self._last_tick = 0
        self._on_interval = on_interval
        self._should_stop = should_stop
        kinds = list(dict.fromkeys(t.kind for t in plan.templates))
        self._measured = {kind: Recorder(measured=True) for kind in kinds}
        self._warm = {kind: Recorder(measured=False) for kind in kinds}
        self._totals = {kind: KindTotals() for kind in kinds}
        order = self._order(plan)
        self._next_measured = itertools.cycle(
            [(t.data, self._measured[t.kind], expect) for t, expect in order]).__next__
        self._next_warm = itertools.cycle(
            [(t.data, self._warm[t.kind], expect) for t, expect in order]).__next__
        # Closed-loop connections call this for their next request; it switches at warm-up end.
        self.next_request: Callable[[], tuple[bytes, Recorder, Expectation | None]] = \
            self._next_warm
        self._flow: Flow | None = None
        self._flow_tasks: list[asyncio.Task[None]] = []
        self._flows_done = 0
        connection: type[Connection] = Connection if self._open else ClosedLoopConnection
        if plan.flow is not None:
            self._flow, self._flow_params = _load_flow(*plan.flow)
            self._by_name = {
                kind: itertools.cycle([(t.data, self._measured[kind], self._warm[kind], t.expect)
                                       for t in plan.templates if t.kind == kind]).__next__
                for kind in kinds
            }
            self._flow_sent = 0
            connection = FlowConnection
        self._conns = [connection(self) for _ in range(plan.connections)]
        self._idle: list[Connection] = []
        self._available_since = 0  # since when at least one connection has been idle
        self._errors: Counter[str] = Counter()
        self._gen_lag = array("q")
        # (since, sent) of late sends and (due, sent) of those that waited for a connection,
        # still to be judged against the pauses
        self._late, self._waits = array("q"), array("q")
        self._late_own = self._late_paused = self._waited_paused = 0
        self._watch = PauseWatch()
        self._blocked = self._blocked_ns = 0
        self._gen_lag_hist = histogram.new_histogram()
        self._intervals: list[Interval] = []
        # The current second's (corrected, uncorrected) histograms, all kinds together.
        self._this_second = histogram.new_histogram(), histogram.new_histogram()
        self._address: tuple[str, int] = (plan.endpoint.host, plan.endpoint.port)  # resolved
        self._intended = self._sent = self._unsent = self._waited = self._reconnects = 0
        self._next_t: int | None = None
        self._flush_timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] | None = None
        self._reconnecting: set[asyncio.Task[None]] = set()
        self._interrupted = False
        self._second = 0
        # (CPU time, perf_counter_ns, the loop thread's ns waiting for its core) at start
        self._cpu0: tuple[float, int, int] | None = None
        self._cpu_fraction = self._core_wait_fraction = 0.0
        self.end_ns = 0

    @staticmethod
    def _order(plan: WorkerPlan) -> list[tuple[RequestTemplate, Expectation | None]]:
        """The cycle of (template, expectation if this one is checked in full)."""
        mix = plan.mix or tuple(range(len(plan.templates)))
        every = plan.check_every
        # Long enough that sampling every Nth does not always land on the same template.
        length = len(mix) * max(1, -(-every // len(mix))) if every else len(mix)
        order = []
        for i in range(length):
            template = plan.templates[mix[i % len(mix)]]
            order.append((template, template.expect if every and i % every == 0 else None))
        return order

    # -- the run ---------------------------------------------------------------------------------

    async def run(self, start_gate: StartGate = _start_now) -> WorkerResult:
        """Connect, wait for the gate's start instant, load, drain, and return the result."""
        self._loop = asyncio.get_running_loop()
        await self._connect_all()
        start_epoch = await start_gate()
        await asyncio.sleep(max(0.0, start_epoch - time.time()))
        profile = self.plan.profile
        self._watch.start()
        self._start_ns = perf_counter_ns()
        self._warm_end_ns = self._start_ns + int(profile.warmup_s * NS)
        self.end_ns = self._warm_end_ns + int(profile.duration_s * NS)
        if self._interrupted:  # stopped while connecting
            self.end_ns = self._start_ns
        self._window_end_ns = self.end_ns
        self._done = self._loop.create_future()
        self._loop.call_later(SWEEP_S, self._sweep)
        self._loop.call_at(self._loop_time(self._warm_end_ns), self._begin_measuring)
        self._flush_timer = self._loop.call_at(
            self._loop_time(self._warm_end_ns + INTERVAL_NS), self._flush)
        if self._flow is not None:
            self._flow_tasks = [self._loop.create_task(self._run_flows(conn, k))
                                for k, conn in enumerate(self._conns)]
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

    async def _connect(self, conn: Connection) -> None:
        host, port = self._address
        await self._loop.create_connection(lambda: conn, host, port)

    async def _connect_all(self) -> None:
        """Resolve the host once, then open every connection; the first failure is the one
        line the user sees (every other is retrieved, not left to be logged)."""
        endpoint = self.plan.endpoint
        try:
            found = await self._loop.getaddrinfo(endpoint.host, endpoint.port,
                                                 type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise LoadgenError(f"cannot resolve {endpoint.host}: {exc.strerror}") from None
        host, port = found[0][4][:2]
        self._address = (str(host), int(port))
        outcomes = await asyncio.gather(*(self._connect(conn) for conn in self._conns),
                                        return_exceptions=True)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is None:
            return
        for conn in self._conns:
            if conn.transport is not None:
                conn.transport.abort()
        if not isinstance(failed, OSError):
            raise failed
        reason = failed.strerror or str(failed)
        raise LoadgenError(f"cannot connect to {endpoint.authority}: {reason}") from None

    def _loop_time(self, ns: int) -> float:
        """The event loop's clock at perf_counter time `ns`."""
        return self._loop.time() + (ns - perf_counter_ns()) / NS

    def _begin_measuring(self) -> None:
        self._cpu0 = time.process_time(), perf_counter_ns(), self._watch.loop_wait_ns()
        if not self._open:
            # Closed loop has no schedule: the window starts when the recorders switch.
            self._warm_end_ns = perf_counter_ns()
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
        if intended >= self._warm_end_ns:
            data, rec, expect = self._next_measured()
            self._sent += 1
            # The generator's own lateness: time since the request was due and a connection
            # was free. Waiting for a busy connection is the server's doing, not ours.
            since = intended if intended > free else free
            self._gen_lag.append((now - since) // 1000)
            if now - since > LATE_NS:  # rare: judged off the hot path, once pauses are known
                self._late.append(since)
                self._late.append(now)
            if free > intended:
                self._waited += 1
                self._waits.append(intended)
                self._waits.append(now)
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
        if self._next_t >= self._warm_end_ns:
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
        if self._flow is not None:
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

    # -- flows -------------------------------------------------------------------------------------

    def flow_request(self, name: str, now: int) -> tuple[bytes, Recorder, Expectation | None]:
        """The next variant of request `name` for a flow, where its figures go, and what its
        answer is checked against if it is one of the sampled ones."""
        try:
            data, measured, warm, expect = self._by_name[name]()
        except KeyError:
            raise LoadgenError(f"the flow sends {name!r}, which the scenario's requests "
                               f"do not name") from None
        every = self.plan.check_every
        self._flow_sent += 1
        sampled = expect if every and self._flow_sent % every == 0 else None
        return data, measured if now >= self._warm_end_ns else warm, sampled

    async def _run_flows(self, conn: Connection, index: int) -> None:
        """Run the flow again and again on `conn` until the window ends."""
        assert isinstance(conn, FlowConnection) and self._flow is not None
        session = Session(self, conn, self._flow_params,
                          random.Random(f"{self.plan.profile.seed}:{self.plan.share.index}:{index}"))
        while perf_counter_ns() < self.end_ns:
            await conn.ready.wait()
            try:
                await self._flow(session)
                self._flows_done += perf_counter_ns() >= self._warm_end_ns
            except (FlowEnded, ConnectionError):
                continue  # a failed request is counted where it failed
            except Exception as exc:  # the user's flow: count what it raised, go on
                if perf_counter_ns() >= self._warm_end_ns:
                    self._errors[f"flow {type(exc).__name__}: {exc}"[:160]] += 1
                await asyncio.sleep(0)  # a flow that raises at once must not starve the loop

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

    def fail(self, conn: Connection, kind: str) -> None:
        """Count the in-flight request as failed and drop the connection (it reconnects)."""
        self._count_error(conn, kind)
        if conn.transport is not None:
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
        while not self._finished():
            if conn.failures:
                wait = min(RECONNECT_MAX_S, RECONNECT_FIRST_S * 2 ** (conn.failures - 1))
                await asyncio.sleep(wait * random.uniform(0.5, 1.0))
                if self._finished():
                    return
            self._reconnects += 1
            try:
                await self._connect(conn)
            except OSError:
                conn.failures += 1
                if perf_counter_ns() >= self._warm_end_ns:
                    self._errors["connect"] += 1
                continue
            if self._finished():
                conn.transport.abort()  # type: ignore[union-attr]  # connected too late
            else:
                self.on_free(conn, perf_counter_ns())
            return

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
            self._totals[kind].fold(rec, self._this_second)
        histogram.record_all(self._gen_lag_hist, self._gen_lag)
        del self._gen_lag[:]
        self._judge(self._watch.covered_ns)

    def _judge(self, upto: int) -> None:
        """Judge the late and the waiting sends made before `upto` (the watchdog has seen
        every pause until then) against the pauses."""
        pauses = self._watch.pauses
        self._late, own, paused = _split(self._late, upto, pauses, _own_lateness)
        self._late_own += own
        self._late_paused += paused
        self._waits, _, paused = _split(self._waits, upto, pauses, _due_outside)
        self._waited_paused += paused

    def on_write_blocked(self, now: int) -> None:
        """A write found a connection's socket full: the server is not reading fast enough."""
        if now >= self._warm_end_ns:
            self._blocked += 1

    def on_write_resumed(self, since: int, now: int) -> None:
        """The socket took the rest of that write."""
        if since >= self._warm_end_ns:
            self._blocked_ns += now - since

    def _flush(self) -> None:
        """Close the current second: add it to the totals and hand it on. Also at the end."""
        self._fold()
        corrected, uncorrected = self._this_second
        self._this_second = histogram.new_histogram(), histogram.new_histogram()
        requests = int(corrected.get_total_count())
        if requests:
            interval = Interval(self._second, requests,
                                histogram.encode(corrected), histogram.encode(uncorrected))
            self._intervals.append(interval)
            if self._on_interval is not None:
                self._on_interval(interval)
        self._second += 1
        if not self._finished():
            self._flush_timer = self._loop.call_at(
                self._loop_time(self._warm_end_ns + (self._second + 1) * INTERVAL_NS),
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
        in_turns = self.plan.profile.turns.count > 1 and not self._interrupted
        self._window_end_ns = self.end_ns if in_turns else min(now, self.end_ns)
        self._watch.stop()
        self._judge(now)
        if self._cpu0 is not None and now > self._cpu0[1]:
            cpu_s, start, wait = self._cpu0
            # A pause is nobody's CPU time: over the time the process could run.
            unpaused = now - start - sum(length for _, length in self._window_pauses()) * NS
            if unpaused > 0:
                self._cpu_fraction = (time.process_time() - cpu_s) * NS / unpaused
                self._core_wait_fraction = (self._watch.loop_wait_ns() - wait) / unpaused
        for conn in self._conns:
            self._count_error(conn, "timeout")  # still in flight when the drain ran out
        while self._next_t is not None:  # due, or scheduled before a stop, and never sent
            if self._next_t >= self._warm_end_ns:
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
        for task in self._flow_tasks:
            task.cancel()
        await asyncio.gather(*self._flow_tasks, return_exceptions=True)
        if self._reconnecting:
            await asyncio.wait(self._reconnecting)
        for conn in self._conns:
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)  # run the connection_lost callbacks

    def _window_pauses(self) -> list[tuple[float, float]]:
        """The pauses in the measured window and the drain (the watch ends with the drain), as
        (start, length) in s after the window's start; each put at the end of its stretch,
        where the watchdog woke and so where it ended."""
        start = self._warm_end_ns
        return [(max(0, p.end_ns - p.length_ns - start) / NS, p.length_ns / NS)
                for p in self._watch.pauses if p.end_ns > start]

    def _steal_ms(self) -> dict[int, tuple[float, ...]]:
        """Each core's stolen ms in each second of the measured window."""
        seconds = -(-(self._window_end_ns - self._warm_end_ns) // INTERVAL_NS)
        return {core: tuple(steal_between(samples, self._warm_end_ns + i * INTERVAL_NS,
                                          self._warm_end_ns + (i + 1) * INTERVAL_NS) / 1e6
                            for i in range(seconds))
                for core, samples in self._watch.steal.items()}

    def _result(self, start_epoch: float) -> WorkerResult:
        measured_ns = max(0, self._window_end_ns - self._warm_end_ns)
        return WorkerResult(
            share=self.plan.share,
            start_epoch_s=start_epoch,
            measured_s=measured_ns / NS,
            kinds={kind: totals.result(self._measured[kind])
                   for kind, totals in self._totals.items()},
            intervals=self._intervals,
            errors=dict(self._errors),
            intended=self._intended,
            sent=self._sent,
            unsent=self._unsent,
            waited=self._waited,
            reconnects=self._reconnects,
            flows=self._flows_done,
            generator_lag=histogram.encode(self._gen_lag_hist),
            cpu_fraction=self._cpu_fraction,
            interrupted=self._interrupted,
            late=self._late_own,
            late_in_pause=self._late_paused,
            waited_in_pause=self._waited_paused,
            core_wait_fraction=self._core_wait_fraction,
            pauses=tuple(self._window_pauses()),
            steal_ms=self._steal_ms(),
            write_blocked=self._blocked,
            write_blocked_s=self._blocked_ns / NS,
        )


def _split(pairs: array[int], upto: int, pauses: list[Pause],
           rule: Callable[[int, int, list[Pause]], bool]) -> tuple[array[int], int, int]:
    """(the pairs (first, sent) sent after `upto`, still pending; how many of the others
    `rule` holds for, given the pauses; how many it does not). Off the hot path but not free:
    a server that pushes back makes every send a pair, so with no pause about (the usual case)
    nothing is looped over. `rule` must hold where no pause touches a pair."""
    done = bisect_right(pairs[1::2], upto)  # sends are made in time order
    judged, pending = pairs[:2 * done], pairs[2 * done:]
    earliest = min(judged[0::2], default=upto)
    near = [p for p in pauses if p.end_ns > earliest]
    if not near:
        return pending, done, 0
    yes = sum(rule(judged[i], judged[i + 1], near) for i in range(0, len(judged), 2))
    return pending, yes, done - yes


def _own_lateness(since: int, sent: int, pauses: list[Pause]) -> bool:
    """A late send is the generator's own unless pauses cover all but LATE_NS of it."""
    return sent - since - overlap_ns(pauses, since, sent) > LATE_NS


def _due_outside(due: int, _: int, pauses: list[Pause]) -> bool:
    """A send that waited for a connection is the server's pushback unless it fell due inside
    a pause (the backlog a pause leaves is no sign of a slow server)."""
    return not overlap_ns(pauses, due, due + 1)


def _load_flow(path: str, params: tuple[tuple[str, Any], ...]) -> tuple[Flow, dict[str, Any]]:
    scenario = load_scenario(path)
    if scenario.flow is None:
        raise LoadgenError(f"scenario {path} defines no flow")
    return scenario.flow, dict(params)
