"""Reaching the server: over TCP (the host resolved once) or a Unix socket, plain or TLS; every
connection opened at once, reconnects backed off, and every TLS handshake timed."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter_ns
from typing import TypeVar

from hdrh.histogram import HdrHistogram

from loadgen.engine.connection import Connection
from loadgen.engine.h2session import H2Session, H2Stream
from loadgen.engine.tlslink import TlsLink
from loadgen.errors import LoadgenError
from loadgen.results import histogram
from loadgen.workloads.request import Endpoint
from loadgen.workloads.tls import ALPN_H2, client_context, handshake_problem

# A connection lost before it gave a complete response, or a connect that failed, waits
# before the next attempt: 10 ms, doubling with each such failure in a row up to 1 s, less a
# random part of up to half so that connections do not retry in step. Against a server that
# closed every connection at once, 64 connections with no wait made 34,800 attempts in 2 s.
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.01, 1.0
BACKLOG_WAIT_FIRST_S, BACKLOG_WAIT_MAX_S = 0.001, 0.1


T = TypeVar("T")


NOT_HTTP2 = "the server did not answer in HTTP/2"


class NotHttp2(ConnectionError):
    """A server that did not answer in HTTP/2 where it was asked to."""


class Dialer:
    """How one worker's connections reach the endpoint. The TLS context is made once. Each
    handshake is timed on its own, after the TCP connect, so the histogram holds only the
    handshake; the resumed ones are counted too."""

    def __init__(self, endpoint: Endpoint, handshake_timeout_s: float) -> None:
        self.endpoint = endpoint
        self.address: tuple[str, int] = (endpoint.host, endpoint.port)  # until resolved
        self.family = socket.AF_UNIX if endpoint.unix else socket.AF_INET
        self.context = (None if endpoint.tls is None
                        else client_context(endpoint.tls, http2=bool(endpoint.streams)))
        self.timeout_s = handshake_timeout_s
        self.handshakes: HdrHistogram = histogram.new_histogram()
        self.resumed = 0

    def timed(self) -> str:
        """The handshakes' histogram, encoded; "" without TLS."""
        return "" if self.context is None else histogram.encode(self.handshakes)

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
        """Open `conn`; over HTTP/2 its session, once for all its streams."""
        if isinstance(conn, H2Stream):
            session = conn.session
            if session.transport is None and (session.dialing is None or session.dialing.done()):
                session.dialing = loop.create_task(self._session(loop, session))
            if session.dialing is not None:
                await asyncio.shield(session.dialing)
            return
        await self._open(loop, lambda: conn)

    async def _session(self, loop: asyncio.AbstractEventLoop, session: H2Session) -> None:
        """Open the session's connection and wait for the server's HTTP/2 settings."""
        transport = await self._open(loop, lambda: session)
        if self.context is not None:
            chosen = transport.get_extra_info("ssl_object").selected_alpn_protocol()
            if chosen != ALPN_H2:
                transport.abort()
                raise NotHttp2(f"the server does not speak HTTP/2 (by ALPN it chose "
                               f"{chosen or 'nothing'})")
        assert session.ready is not None
        with contextlib.suppress(TimeoutError):  # said below, as a server that never answered
            await asyncio.wait_for(asyncio.shield(session.ready), self.timeout_s)
        if session.transport is None or not session.ready.done():
            transport.abort()
            raise NotHttp2(NOT_HTTP2 + ("" if self.context else " (h2c: with prior knowledge)"))

    async def _open(self, loop: asyncio.AbstractEventLoop,
                    protocol: Callable[[], asyncio.BaseProtocol]) -> asyncio.Transport:
        unix = self.endpoint.unix
        if self.context is None:
            if unix:
                return (await self._past_backlog(
                    lambda: loop.create_unix_connection(protocol, unix)))[0]
            return (await loop.create_connection(protocol, *self.address))[0]
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if unix:
                await self._past_backlog(lambda: loop.sock_connect(sock, unix))
            else:
                await loop.sock_connect(sock, self.address)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as for plain TCP
            started = perf_counter_ns()
            shaken: asyncio.Future[None] = loop.create_future()
            link = TlsLink(protocol(), self.context, self.endpoint.host, shaken)
            await loop.create_connection(lambda: link, sock=sock)
        except BaseException:
            sock.close()
            raise
        try:
            await asyncio.wait_for(shaken, self.timeout_s)
        except BaseException:
            link.abort()
            raise
        self.handshakes.record_value(max(1, (perf_counter_ns() - started) // 1000))
        self.resumed += link.tls.session_reused
        return link

    async def _past_backlog(self, connect: Callable[[], Awaitable[T]]) -> T:
        """`connect()` to a Unix socket, again while the server's listen backlog is full.

        Over TCP the kernel retries a SYN that finds the backlog full. A Unix socket's connect
        fails at once with EAGAIN instead: daphne (Twisted's backlog of 50) refused some of 64
        connections made at once. So it is tried again, 1 ms later and doubling up to
        BACKLOG_WAIT_MAX_S, until the time-out."""
        deadline = perf_counter_ns() + self.timeout_s * 1e9
        wait = BACKLOG_WAIT_FIRST_S
        while True:
            try:
                return await connect()
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
