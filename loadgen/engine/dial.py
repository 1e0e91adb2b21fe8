"""Reaching the server: over TCP (the host resolved once) or a Unix socket, plain or TLS; every
connection opened at once, reconnects backed off, and every TLS handshake timed."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter_ns

from hdrh.histogram import HdrHistogram

from loadgen.engine.connection import Connection
from loadgen.errors import LoadgenError
from loadgen.results import histogram
from loadgen.workloads.request import Endpoint
from loadgen.workloads.tls import client_context, handshake_problem

# A connection lost before it gave a complete response, or a connect that failed, waits
# before the next attempt: 10 ms, doubling with each such failure in a row up to 1 s, less a
# random part of up to half so that connections do not retry in step. Against a server that
# closed every connection at once, 64 connections with no wait made 34,800 attempts in 2 s.
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.01, 1.0
BACKLOG_WAIT_FIRST_S, BACKLOG_WAIT_MAX_S = 0.001, 0.1


class Dialer:
    """How one worker's connections reach the endpoint. The TLS context is made once. Each
    handshake is timed on its own, after the TCP connect, so the histogram holds only the
    handshake; the resumed ones are counted too."""

    def __init__(self, endpoint: Endpoint, handshake_timeout_s: float) -> None:
        self.endpoint = endpoint
        self.address: tuple[str, int] = (endpoint.host, endpoint.port)  # until resolved
        self.family = socket.AF_UNIX if endpoint.unix else socket.AF_INET
        self.context = None if endpoint.tls is None else client_context(endpoint.tls)
        self.timeout_s = handshake_timeout_s
        self.handshakes: HdrHistogram = histogram.new_histogram()
        self.resumed = 0

    async def resolve(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.endpoint.unix:
            return
        endpoint = self.endpoint
        try:
            found = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise LoadgenError(f"cannot resolve {endpoint.host}: {exc.strerror}") from None
        family, *_, sockaddr = found[0]
        self.family = family
        self.address = (str(sockaddr[0]), int(sockaddr[1]))

    async def connect(self, loop: asyncio.AbstractEventLoop, conn: Connection) -> None:
        unix = self.endpoint.unix
        if self.context is None:
            if unix:
                await self._past_backlog(lambda: loop.create_unix_connection(lambda: conn, unix))
            else:
                await loop.create_connection(lambda: conn, *self.address)
            return
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        started = perf_counter_ns()
        try:
            sock.setblocking(False)
            if unix:
                await self._past_backlog(lambda: loop.sock_connect(sock, unix))
            else:
                await loop.sock_connect(sock, self.address)
            if not unix:  # as create_connection does for plain TCP
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            started = perf_counter_ns()
            transport, _ = await loop.create_connection(
                lambda: conn, sock=sock, ssl=self.context, server_hostname=self.endpoint.host,
                ssl_handshake_timeout=self.timeout_s)
        except ConnectionAbortedError:  # how uvloop ends a handshake past its time-out
            sock.close()
            if perf_counter_ns() - started >= self.timeout_s * 1e9:  # the handshake's, or
                # the connect's and the handshake's: either way past the time-out
                raise TimeoutError from None
            raise
        except BaseException:
            sock.close()
            raise
        self.handshakes.record_value(max(1, (perf_counter_ns() - started) // 1000))
        ssl_object = transport.get_extra_info("ssl_object")
        self.resumed += bool(ssl_object is not None and ssl_object.session_reused)

    async def _past_backlog(self, connect: Callable[[], Awaitable[object]]) -> None:
        """`connect()` to a Unix socket, again while the server's listen backlog is full.

        Over TCP the kernel retries a SYN that finds the backlog full. A Unix socket's connect
        fails at once with EAGAIN instead: daphne (Twisted's backlog of 50) refused some of 64
        connections made at once. So it is tried again, 1 ms later and doubling up to
        BACKLOG_WAIT_MAX_S, until the time-out."""
        deadline = perf_counter_ns() + self.timeout_s * 1e9
        wait = BACKLOG_WAIT_FIRST_S
        while True:
            try:
                await connect()
                return
            except BlockingIOError:
                if perf_counter_ns() + wait * 1e9 > deadline:
                    raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, BACKLOG_WAIT_MAX_S)

    async def connect_all(self, loop: asyncio.AbstractEventLoop,
                          conns: Sequence[Connection]) -> None:
        """Resolve the host once, then open every connection. The first failure is the one
        line the user sees (every other is retrieved, not left to be logged)."""
        await self.resolve(loop)
        outcomes = await asyncio.gather(*(self.connect(loop, conn) for conn in conns),
                                        return_exceptions=True)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is None:
            return
        for conn in conns:
            if conn.transport is not None:
                conn.transport.abort()
        where = self.endpoint.unix or self.endpoint.authority
        if isinstance(failed, ssl.SSLError):
            raise LoadgenError(handshake_problem(self.endpoint.authority, failed)) from None
        if isinstance(failed, TimeoutError):
            raise LoadgenError(f"TLS handshake with {where} took over {self.timeout_s:g} s"
                               ) from None
        if not isinstance(failed, OSError):
            raise failed
        reason = failed.strerror or str(failed)
        raise LoadgenError(f"cannot connect to {where}: {reason}") from None

    async def reconnect(self, loop: asyncio.AbstractEventLoop, conn: Connection,
                        over: Callable[[], bool], attempted: Callable[[bool], None]) -> bool:
        """Open `conn` again, after the backoff its failures in a row call for, until it is
        open (True) or `over()` (False); `attempted(failed)` hears of each attempt."""
        while not over():
            if conn.failures:
                wait = min(RECONNECT_MAX_S, RECONNECT_FIRST_S * 2 ** (conn.failures - 1))
                await asyncio.sleep(wait * random.uniform(0.5, 1.0))
                if over():
                    return False
            try:
                await self.connect(loop, conn)
            except (OSError, TimeoutError):  # ssl.SSLError is an OSError
                conn.failures += 1
                attempted(True)
                continue
            attempted(False)
            return True
        return False
