"""The connections of a worker's share, as its schedule hands them requests: HTTP/1.1 ones (open
loop, closed loop, or each running a scenario's flow), or over HTTP/2 each stream slot of its
sessions."""

from __future__ import annotations

from loadgen.engine.connection import ClosedLoopConnection, Connection, Owner
from loadgen.engine.flow import FlowConnection
from loadgen.engine.h2frames import H2Request
from loadgen.engine.h2session import H2Session
from loadgen.engine.plan import Load
from loadgen.errors import LoadgenError


def connections(owner: Owner, load: Load, count: int, open_loop: bool) -> list[Connection]:
    """`count` connections; over HTTP/2, `count` sessions' worth of stream slots."""
    streams = load.endpoint.streams
    if not streams:
        kind: type[Connection] = (FlowConnection if load.flow is not None
                                  else Connection if open_loop else ClosedLoopConnection)
        return [kind(owner) for _ in range(count)]
    if load.flow is not None:
        raise LoadgenError("a scenario with a flow runs over HTTP/1.1: drop --h2")
    built: dict[bytes, H2Request] = {}  # each template's frames, shared by the sessions
    scheme = "https" if load.endpoint.tls else "http"
    return [slot for _ in range(count)
            for slot in H2Session(owner, streams, scheme, not open_loop, built).slots]
