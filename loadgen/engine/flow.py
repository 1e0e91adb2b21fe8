"""Multi-step flows: a scenario's `async def flow(session)` runs on one of the engine's
connections, closed loop, sending the scenario's named requests (pre-encoded like any other)
one after another and reading each answer, as a user who logs in, lists and uploads would."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from loadgen.connection import Connection

if TYPE_CHECKING:
    from loadgen.engine import Worker


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class FlowEnded(Exception):
    """The measured window (or the run) ended: the flow stops where it is."""


class FlowConnection(Connection):
    """A connection whose responses go back to the flow that awaits them, body included."""

    __slots__ = ("ready", "waiter")

    def __init__(self, owner: Worker) -> None:
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

    def __init__(self, worker: Worker, conn: FlowConnection, params: dict[str, Any],
                 rng: random.Random) -> None:
        self._worker = worker
        self._conn = conn
        self.params = params
        self.rng = rng

    async def send(self, name: str) -> Response:
        """Send the scenario's request `name` (its next variant) and return the answer."""
        now = perf_counter_ns()
        if now >= self._worker.end_ns:
            raise FlowEnded
        data, rec, expect = self._worker.flow_request(name, now)
        conn = self._conn
        conn.waiter = asyncio.get_running_loop().create_future()
        conn.send(rec, data, now, now, expect)
        return await conn.waiter


Flow = Callable[[Session], Awaitable[None]]
