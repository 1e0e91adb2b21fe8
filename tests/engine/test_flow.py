"""A flow's connection: its answer goes back to the flow, and it counts as a connection that
worked, as the engine's others do (the reconnect backoff restarts from it)."""

from __future__ import annotations

import asyncio

from loadgen.engine.connection import Connection
from loadgen.engine.flow import FlowConnection, Response
from loadgen.engine.recording import Recorder


class Owner:
    end_ns = 0

    def fail(self, conn: Connection, kind: str) -> None:
        raise AssertionError(f"failed: {kind}")

    def on_lost(self, conn: Connection) -> None:
        pass


class Transport(asyncio.Transport):
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


def test_a_complete_response_resets_the_failures_and_reaches_the_flow() -> None:
    loop = asyncio.new_event_loop()
    try:
        conn = FlowConnection(Owner())  # type: ignore[arg-type]
        conn.connection_made(Transport())
        conn.failures = 3  # three connections in a row had failed before this one
        conn.rec = Recorder(measured=True)
        answer: asyncio.Future[Response] = loop.create_future()
        conn.waiter = answer
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        assert answer.result() == Response(200, b"ok")
        assert conn.failures == 0
    finally:
        loop.close()
