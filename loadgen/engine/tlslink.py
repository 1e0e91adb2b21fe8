"""TLS between a plain socket and a connection, on OpenSSL's memory BIOs, in the loop's thread.

uvloop's TLS layer does the same work through more steps: its own buffers, a read loop that
ends on an exception, and a write that waits for the loop's next turn to be encrypted. Here a
response is decrypted and handed on in the callback that read it, and a request is encrypted
and written in the call that sends it: at most one exception per partial record, and a write
that does not fit the socket is told at once, as over plain TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

# More than a TLS record holds (16 KiB), so that one read takes all of a record's plaintext.
READ_SIZE = 64 * 1024


class TlsLink(asyncio.Protocol, asyncio.Transport):
    """The socket's protocol, and its inner connection's transport.

    `handshake` resolves once the handshake is done, and then the inner protocol is told
    `connection_made(self)`; a failed handshake sets its exception and closes the socket.
    """

    __slots__ = ("done", "handshake", "incoming", "inner", "outgoing", "raw", "tls")

    def __init__(self, inner: asyncio.BaseProtocol, context: ssl.SSLContext,
                 hostname: str | None, handshake: asyncio.Future[None]) -> None:
        self.inner: Any = inner
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=hostname)
        self.handshake = handshake
        self.done = False
        self.raw: asyncio.Transport | None = None

    # The socket's side.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw = transport  # type: ignore[assignment]
        self._shake()

    def data_received(self, data: bytes) -> None:
        self.incoming.write(data)
        if not self.done:
            self._shake()
            if not self.done:
                return
        tls, incoming, inner = self.tls, self.incoming, self.inner
        while True:
            try:
                plain = tls.read(READ_SIZE)
            except ssl.SSLWantReadError:  # a record not whole yet, or one with no data
                break
            except ssl.SSLError:  # close_notify, or a record that does not decrypt
                self._flush()
                self.abort()
                return
            if plain:
                inner.data_received(plain)
            # Mostly one record a read: the loop ends here, without a check on the way.
            if not incoming.pending:
                break
            if self.is_closing():  # the inner side closed the connection on that record
                return
        if self.outgoing.pending:  # what reading called for: a key update's answer
            self._flush()

    def eof_received(self) -> bool:
        return False  # the socket closes; the inner side hears connection_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self.raw = None
        if not self.done:
            if not self.handshake.done():
                self.handshake.set_exception(exc or ConnectionResetError(
                    "the server closed the connection during the TLS handshake"))
            return
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def _shake(self) -> None:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError as exc:
            self._flush()  # the alert, so that the server knows why
            if self.raw is not None:
                self.raw.close()
            if not self.handshake.done():
                self.handshake.set_exception(exc)
            return
        self._flush()
        self.done = True
        if self.handshake.done():  # timed out while it was under way
            self.abort()
            return
        self.handshake.set_result(None)
        self.inner.connection_made(self)

    def _flush(self) -> None:
        if self.outgoing.pending and self.raw is not None:
            self.raw.write(self.outgoing.read())

    # The inner connection's side: a transport.

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.tls.write(data)
        if self.raw is not None:
            self.raw.write(self.outgoing.read())

    def close(self) -> None:
        """Say close_notify, then close the socket."""
        if self.raw is None:
            return
        with contextlib.suppress(ssl.SSLError):
            self.tls.unwrap()
        self._flush()
        self.raw.close()

    def abort(self) -> None:
        if self.raw is not None:
            self.raw.abort()

    def is_closing(self) -> bool:
        return self.raw is None or self.raw.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self.tls
        return default if self.raw is None else self.raw.get_extra_info(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self.raw is not None:
            self.raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return 0 if self.raw is None else self.raw.get_write_buffer_size()
