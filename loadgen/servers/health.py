"""Whether a server loadgen started is ready: GET /health answers 200, reached as the engine
will reach it (its socket, its TLS, its HTTP version)."""

from __future__ import annotations

import http.client
import socket

import httpx

from loadgen.workloads.request import Endpoint
from loadgen.workloads.tls import client_context
from loadgen.workloads.workload import http_client


def healthy(endpoint: Endpoint) -> bool:
    """GET /health, as the engine will reach it: its socket, its TLS, its HTTP version."""
    if endpoint.streams:
        with http_client(endpoint, 1.0) as client:
            try:
                return client.get(endpoint.url + "/health").status_code == 200
            except httpx.TransportError:
                return False
    conn = _http_connection(endpoint)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):  # ssl.SSLError is an OSError: a server
        return False  # still starting may cut a handshake, or answer what is not HTTP/1.1
    finally:
        conn.close()


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket."""

    def __init__(self, path: str, host: str) -> None:
        super().__init__(host, timeout=1)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def _http_connection(endpoint: Endpoint) -> http.client.HTTPConnection:
    """A connection for the health check, over the endpoint's socket or TLS."""
    if endpoint.unix:
        return _UnixConnection(endpoint.unix, endpoint.host)
    if endpoint.tls:
        return http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=1,
                                           context=client_context(endpoint.tls))
    return http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=1)
