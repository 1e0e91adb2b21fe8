"""Multi-step flows: a scenario's `async def flow(session)` runs on one of the engine's
connections, closed loop, sending the scenario's named requests (pre-encoded like any other)
one after another and reading each answer, as a user who logs in, lists and uploads would."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Protocol

from loadgen.engine.connection import Connection, Owner
from loadgen.engine.recording import Recorder
from loadgen.errors import LoadgenError
from loadgen.workloads.checks import Expectation
from loadgen.workloads.request import RequestTemplate
from loadgen.workloads.scenario import load_scenario


class Host(Owner, Protocol):
    """What flows need of the worker they run in: its window, and where a flow's error goes."""

    warm_end_ns: int

    def count_error(self, text: str) -> None: ...


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class FlowEnded(Exception):
    """The measured window (or the run) ended: the flow stops where it is."""


class FlowConnection(Connection):
    """A connection whose responses go back to the flow that awaits them, body included."""

    __slots__ = ("ready", "waiter")

    def __init__(self, owner: Owner) -> None:
        super().__init__(owner)
        self.waiter: asyncio.Future[Response] | None = None
        self.ready = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.ready.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ready.clear()
        super().connection_lost(exc)
        self._resolve(ConnectionError("connection lost"))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        now = perf_counter_ns()
        rec = self.rec
        if rec is None:
            self.owner.fail(self, "parse")
            return
        parser = self.parser
        rec.service.append((now - self.sent) // 1000)
        status = parser.get_status_code()  # type: ignore[union-attr]
        rec.status.append(status)
        self.failures = 0
        response = Response(status, b"".join(self.body))
        if self.expect is not None:
            self.owner.check(self, rec, status)
        self.body.clear()
        self.rec = None
        if not parser.should_keep_alive():  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]
        self._resolve(response)

    def _resolve(self, outcome: Response | Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


class Session:
    """What a flow sees: `send(name)` and the run's parameters and seeded random generator."""

    def __init__(self, flows: Flows, host: Host, conn: FlowConnection, rng: random.Random) -> None:
        self._flows = flows
        self._host = host
        self._conn = conn
        self.params = flows.params
        self.rng = rng

    async def send(self, name: str) -> Response:
        """Send the scenario's request `name` (its next variant) and return the answer."""
        now = perf_counter_ns()
        if now >= self._host.end_ns:
            raise FlowEnded
        data, rec, expect = self._flows.request(name, now >= self._host.warm_end_ns)
        conn = self._conn
        conn.waiter = asyncio.get_running_loop().create_future()
        conn.send(rec, data, now, now, expect)
        return await conn.waiter


Flow = Callable[[Session], Awaitable[None]]


class Flows:
    """A scenario's flow, run again and again on each of a worker's connections until its window
    ends; the requests it names go out as their pre-encoded variants, in turn."""

    def __init__(self, spec: tuple[str, tuple[tuple[str, Any], ...]],
                 templates: Sequence[RequestTemplate], measured: Mapping[str, Recorder],
                 warm: Mapping[str, Recorder], check_every: int, seed: str) -> None:
        scenario = load_scenario(spec[0])
        if scenario.flow is None:
            raise LoadgenError(f"scenario {spec[0]} defines no flow")
        self._flow: Flow = scenario.flow
        self.params = dict(spec[1])
        self._by_name = {
            kind: itertools.cycle([(t.data, measured[kind], warm[kind], t.expect)
                                   for t in templates if t.kind == kind]).__next__
            for kind in measured}
        self._every = check_every
        self._seed = seed
        self._sent = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.done = 0  # flows run to their end in the measured window

    def request(self, name: str, measured: bool) -> tuple[bytes, Recorder, Expectation | None]:
        """The next variant of request `name`, where its figures go, and what its answer is
        checked against if it is one of the sampled ones."""
        try:
            data, into, warm, expect = self._by_name[name]()
        except KeyError:
            raise LoadgenError(f"the flow sends {name!r}, which the scenario's requests "
                               f"do not name") from None
        self._sent += 1
        sampled = expect if self._every and self._sent % self._every == 0 else None
        return data, into if measured else warm, sampled

    def start(self, host: Host, conns: Sequence[Connection]) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(host, conn, k)) for k, conn in enumerate(conns)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, host: Host, conn: Connection, index: int) -> None:
        assert isinstance(conn, FlowConnection)
        session = Session(self, host, conn, random.Random(f"{self._seed}:{index}"))
        while perf_counter_ns() < host.end_ns:
            await conn.ready.wait()
            try:
                await self._flow(session)
                self.done += perf_counter_ns() >= host.warm_end_ns
            except (FlowEnded, ConnectionError):
                continue  # a failed request is counted where it failed
            except Exception as exc:  # the user's flow: count what it raised, go on
                if perf_counter_ns() >= host.warm_end_ns:
                    host.count_error(f"flow {type(exc).__name__}: {exc}"[:160])
                await asyncio.sleep(0)  # a flow that raises at once must not starve the loop
