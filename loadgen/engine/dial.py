"""Reaching the server: the host resolved once, then every connection opened at once."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Sequence

from loadgen.engine.connection import Connection
from loadgen.errors import LoadgenError
from loadgen.workloads.request import Endpoint

# A connection lost before it gave a complete response, or a connect that failed, waits
# before the next attempt: 10 ms, doubling with each such failure in a row up to 1 s, less a
# random part of up to half so that connections do not retry in step. Against a server that
# closed every connection at once, 64 connections with no wait made 34,800 attempts in 2 s.
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.01, 1.0


async def connect(loop: asyncio.AbstractEventLoop, address: tuple[str, int],
                  conn: Connection) -> None:
    host, port = address
    await loop.create_connection(lambda: conn, host, port)


async def connect_all(loop: asyncio.AbstractEventLoop, endpoint: Endpoint,
                      conns: Sequence[Connection]) -> tuple[str, int]:
    """Resolve the host once, then open every connection; the resolved address, for
    reconnects. The first failure is the one line the user sees (every other is retrieved,
    not left to be logged)."""
    try:
        found = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LoadgenError(f"cannot resolve {endpoint.host}: {exc.strerror}") from None
    host, port = found[0][4][:2]
    address = (str(host), int(port))
    outcomes = await asyncio.gather(*(connect(loop, address, conn) for conn in conns),
                                    return_exceptions=True)
    failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failed is None:
        return address
    for conn in conns:
        if conn.transport is not None:
            conn.transport.abort()
    if not isinstance(failed, OSError):
        raise failed
    reason = failed.strerror or str(failed)
    raise LoadgenError(f"cannot connect to {endpoint.authority}: {reason}") from None


async def reconnect(loop: asyncio.AbstractEventLoop, address: tuple[str, int], conn: Connection,
                    over: Callable[[], bool], attempted: Callable[[bool], None]) -> bool:
    """Open `conn` again, after the backoff its failures in a row call for, until it is open
    (True) or `over()` (False); `attempted(failed)` hears of each attempt."""
    while not over():
        if conn.failures:
            wait = min(RECONNECT_MAX_S, RECONNECT_FIRST_S * 2 ** (conn.failures - 1))
            await asyncio.sleep(wait * random.uniform(0.5, 1.0))
            if over():
                return False
        try:
            await connect(loop, address, conn)
        except OSError:
            conn.failures += 1
            attempted(True)
            continue
        attempted(False)
        return True
    return False
