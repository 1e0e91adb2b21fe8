"""TLS as a client speaks it: what to trust, and whether to resume sessions.

Resumption is off by default. Each of the generator's connections stands for a client, and a
client's first visit pays the full handshake: certificate checks and a key exchange. With
resumption, every reconnect takes the short path, which costs the server less. The handshake
histogram would then show that cheaper path, and a server's session cache would change the
figures by what ran before. `--tls-resume` measures returning clients on purpose.
"""

from __future__ import annotations

import ssl
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.errors import LoadgenError

ALPN_HTTP1, ALPN_H2 = "http/1.1", "h2"


@dataclass(frozen=True)
class Tls:
    """How the client checks the server: against `ca` (a PEM file), the system's roots, or not
    at all (`insecure`, for self-signed certificates); and whether connections resume the
    session of an earlier one."""

    ca: str | None = None
    insecure: bool = False
    resume: bool = False

    def __post_init__(self) -> None:
        if self.ca is not None and self.insecure:
            raise LoadgenError("--ca and --insecure contradict each other: give one")
        if self.ca is not None and not Path(self.ca).is_file():
            raise LoadgenError(f"--ca {self.ca}: no such file")


class ResumingContext(ssl.SSLContext):
    """A client context that offers each new connection the session of an earlier one.

    asyncio and uvloop wrap every connection with `wrap_bio` and pass no session. This context
    remembers the connections it made and offers the newest session that carries a ticket.
    Under TLS 1.3 the ticket arrives after the handshake, so the newest connection may not have
    one yet.
    """

    def __init__(self, protocol: int) -> None:  # ssl.SSLContext.__new__ takes it
        super().__init__()
        self.made: deque[ssl.SSLObject] = deque(maxlen=8)

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                 server_side: bool = False, server_hostname: Any = None,
                 session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        earlier = next(filter(None, map(_resumable, reversed(self.made))), None)
        made = super().wrap_bio(incoming, outgoing, server_side, server_hostname,
                                session or earlier)
        self.made.append(made)
        return made


def _resumable(made: ssl.SSLObject) -> ssl.SSLSession | None:
    """The connection's session, if it has a ticket to resume it by."""
    try:
        session = made.session
    except ValueError:  # its handshake has not finished
        return None
    return session if session is not None and session.has_ticket else None


def client_context(tls: Tls, http2: bool = False) -> ssl.SSLContext:
    """A client context for `tls`, offering HTTP/1.1 by ALPN, or HTTP/2 only."""
    kind = ResumingContext if tls.resume else ssl.SSLContext
    context = kind(ssl.PROTOCOL_TLS_CLIENT)
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.ca is not None:
        context.load_verify_locations(cafile=tls.ca)
    else:
        context.load_default_certs()
    context.set_alpn_protocols([ALPN_H2 if http2 else ALPN_HTTP1])
    return context


def handshake_problem(authority: str, error: ssl.SSLError) -> str:
    """A failed handshake in one line, with what to do about an untrusted certificate."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"TLS: {authority}'s certificate is not trusted ({error.verify_message}); "
                f"give --ca FILE with the certificate that signed it, or --insecure")
    if error.reason == "WRONG_VERSION_NUMBER":
        return f"TLS handshake with {authority} failed: it did not answer in TLS (plain HTTP?)"
    return f"TLS handshake with {authority} failed: {error.reason or error}"
