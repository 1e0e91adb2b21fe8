"""Reaching a server through a Unix socket whose listen backlog is full: the connects are tried
again, as the kernel retries a TCP SYN, and every connection is made."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from loadgen.engine.connection import Connection
from loadgen.engine.dial import Dialer, T
from loadgen.workloads.request import Endpoint

CONNECTIONS = 8


class Owner:
    """Nothing is sent: only the connects are looked at."""

    end_ns = 0


class Watched(Dialer):
    """The engine's dialer, telling when a connect first found the backlog full."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint, handshake_timeout_s=30)
        self.refused = asyncio.Event()

    async def _past_backlog(self, connect: Callable[[], Awaitable[T]]) -> T:
        async def tried() -> T:
            try:
                return await connect()
            except BlockingIOError:
                self.refused.set()
                raise
        return await super()._past_backlog(tried)


def test_connects_past_a_full_backlog_are_tried_again(tmp_path: Path) -> None:
    path = str(tmp_path / "server.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(0)
    # Fill the backlog: connects that queue until one fails with EAGAIN, as the engine's
    # first try would.
    queued: list[socket.socket] = []
    while True:
        sock = socket.socket(socket.AF_UNIX)
        sock.setblocking(False)
        try:
            sock.connect(path)
        except BlockingIOError:
            sock.close()
            break
        queued.append(sock)
    go, stop = threading.Event(), threading.Event()
    accepted: list[socket.socket] = []

    def accept() -> None:
        go.wait()
        listener.settimeout(0.05)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept)
    thread.start()
    dialer = Watched(Endpoint("localhost", 80, unix=path))
    conns = [Connection(Owner()) for _ in range(CONNECTIONS)]  # type: ignore[arg-type]
    made: list[bool] = []

    async def connect_all() -> None:
        connecting = asyncio.ensure_future(dialer.connect_all(asyncio.get_running_loop(), conns))
        await dialer.refused.wait()  # a connect found the backlog full: let them in now
        go.set()
        await connecting
        made.extend(conn.transport is not None for conn in conns)
        for conn in conns:  # closed before the loop is: uvloop's close waits for open handles
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)  # one turn of the loop runs their connection_lost, as in
        # the worker's _close: nothing is waited for

    try:
        uvloop.run(connect_all())
    finally:
        go.set()
        stop.set()
        thread.join(timeout=10)
        for sock in (*queued, *accepted):
            sock.close()
        listener.close()
    assert made == [True] * CONNECTIONS
