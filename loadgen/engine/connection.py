"""One keep-alive HTTP/1.1 connection: the hot path.

httptools parses responses; requests are pre-encoded bytes written as they are. A connection has
at most one request in flight; its owner (the engine's worker) decides what to send next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter_ns
from typing import Protocol

from httptools import HttpParserError, HttpResponseParser

from loadgen.engine.recording import Recorder
from loadgen.workloads.checks import Expectation


class Owner(Protocol):
    """What a connection needs from the worker that owns it."""

    end_ns: int
    next_request: Callable[[], tuple[bytes, Recorder, Expectation | None]]

    def on_free(self, conn: Connection, now: int) -> None: ...
    def check(self, conn: Connection, rec: Recorder, status: int) -> None: ...
    def on_lost(self, conn: Connection) -> None: ...
    def fail(self, conn: Connection, kind: str, drop: bool = True) -> None: ...
    def on_write_blocked(self, now: int) -> None: ...
    def on_write_resumed(self, since: int, now: int) -> None: ...


class Connection(asyncio.Protocol):
    """A connection in an open-loop run: every completion goes back to the owner's schedule."""

    # Slots make the hot path's attribute reads and writes cheaper than a __dict__ would.
    __slots__ = ("blocked", "body", "expect", "failures", "intended", "owner", "parser", "rec",
                 "sent", "transport")

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.parser: HttpResponseParser | None = None
        self.rec: Recorder | None = None  # the in-flight request's recorder; None when idle
        self.intended = 0
        self.sent = 0
        self.expect: Expectation | None = None  # set when this response is sampled for checks
        self.body: list[bytes] = []
        self.blocked = 0  # since when a write has waited for room in the socket
        # Connections in a row that failed or gave no response: each counts as failed from
        # its connect until its first complete response (the engine backs off by it).
        self.failures = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.failures += 1
        self.parser = HttpResponseParser(self)
        # Told whenever a write does not fit the socket at once: the server is not reading
        # fast enough (large uploads). It costs nothing while every write fits. Over TLS too:
        # the TLS link encrypts and writes in the same call (engine/tlslink.py).
        transport.set_write_buffer_limits(high=0)  # type: ignore[attr-defined]

    def pause_writing(self) -> None:
        self.blocked = perf_counter_ns()
        self.owner.on_write_blocked(self.blocked)

    def resume_writing(self) -> None:
        self.owner.on_write_resumed(self.blocked, perf_counter_ns())

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)  # type: ignore[union-attr]
        except HttpParserError:
            self.owner.fail(self, "parse")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.owner.on_lost(self)

    def send(self, rec: Recorder, data: bytes, intended: int, now: int,
             expect: Expectation | None) -> None:
        self.rec = rec
        self.expect = expect
        if expect is not None:
            self.capture_body()
        self.intended = intended
        self.sent = now
        self.transport.write(data)  # type: ignore[union-attr]

    def capture_body(self) -> None:
        """Parse the next response with a parser that also keeps its body, for a check.

        Only sampled responses pay for a body callback: a parser calls `on_body` for every
        response if its protocol has one. Between two responses the parser holds no state
        (one request in flight at a time), so swapping it is safe; `restore_parser` undoes it.
        """
        self.parser = HttpResponseParser(_BodyCapture(self))

    def restore_parser(self) -> None:
        self.parser = HttpResponseParser(self)

    def on_message_complete(self) -> None:
        now = perf_counter_ns()
        rec = self.rec
        if rec is None:  # a response nobody asked for
            self.owner.fail(self, "parse")
            return
        parser = self.parser
        rec.service.append((now - self.sent) // 1000)
        rec.lag.append((self.sent - self.intended) // 1000)
        status = parser.get_status_code()  # type: ignore[union-attr]
        rec.status.append(status)
        self.failures = 0
        if self.expect is not None:
            self.owner.check(self, rec, status)
        self.rec = None
        if parser.should_keep_alive():  # type: ignore[union-attr]
            self.owner.on_free(self, now)
        else:
            self.transport.close()  # type: ignore[union-attr]  # reconnects in connection_lost


class ClosedLoopConnection(Connection):
    """A connection in a closed-loop run: it sends its next request itself, straight from the
    completion callback, which is the whole per-request cost at 100k+ requests per second."""

    __slots__ = ()

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
        owner = self.owner
        if self.expect is not None:
            owner.check(self, rec, status)
        if not parser.should_keep_alive():  # type: ignore[union-attr]
            self.rec = None
            self.transport.close()  # type: ignore[union-attr]
            return
        if now < owner.end_ns:
            data, self.rec, self.expect = owner.next_request()
            if self.expect is not None:
                self.capture_body()
            self.sent = now
            self.transport.write(data)  # type: ignore[union-attr]
        else:
            self.rec = None
            owner.on_free(self, now)


class _BodyCapture:
    """The parser protocol of a sampled response: keeps the body, then completes as usual."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def on_body(self, body: bytes) -> None:
        self.conn.body.append(body)

    def on_message_complete(self) -> None:
        self.conn.on_message_complete()
