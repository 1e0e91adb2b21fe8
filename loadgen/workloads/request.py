"""Where requests go and the bytes they are sent as, encoded once per template."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loadgen.errors import LoadgenError
from loadgen.workloads.checks import Expectation
from loadgen.workloads.tls import Tls


@dataclass(frozen=True)
class Endpoint:
    """A server's address: host and port, over TLS when `tls` says how; or a Unix socket
    (`unix`), where host and port are only what the Host header names."""

    host: str
    port: int
    tls: Tls | None = None
    unix: str | None = None
    streams: int = 0  # HTTP/2 with this many streams at once on each connection; 0: HTTP/1.1

    def __post_init__(self) -> None:
        if self.streams < 0:
            raise LoadgenError(f"--streams must be at least 1, not {self.streams}")

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL a request path is appended to."""
        return f"{'https' if self.tls else 'http'}://{self.authority}"

    @property
    def where(self) -> str:
        """The address as a summary says it: the URL, and the socket it goes through."""
        h2 = f" (HTTP/2, {self.streams} streams a connection)" if self.streams else ""
        return self.url + (f" via {self.unix}" if self.unix else "") + h2


@dataclass(frozen=True)
class RequestTemplate:
    """One kind of request, pre-encoded: the engine writes `data` as it is. Every response's
    status is counted against `expect.status`; sampled responses are checked in full."""

    kind: str
    data: bytes
    expect: Expectation = field(default_factory=lambda: Expectation((200,)))


def parse_url(url: str, tls: Tls | None = None, unix: str | None = None, streams: int = 0
              ) -> tuple[Endpoint, str]:
    """The endpoint and the path (with query) of an http:// or https:// URL: over TLS as `tls`
    says (default: the system's roots), through the Unix socket `unix` if given, over HTTP/2
    with `streams` streams a connection if given (cleartext: with prior knowledge)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LoadgenError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadgenError(f"invalid URL {url!r}: expected http[s]://host[:port]/path")
    secure = parts.scheme == "https"
    if tls is not None and not secure:
        raise LoadgenError(f"--ca, --insecure and --tls-resume go with https://, not {url}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Endpoint(parts.hostname, port or (443 if secure else 80),
                    (tls or Tls()) if secure else None,
                    None if unix is None else unix_socket(unix), streams), path


def unix_socket(path: str) -> str:
    """`path`, if a Unix socket is there."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise LoadgenError(f"--unix-socket {path}: no such file") from None
    except OSError as exc:
        raise LoadgenError(f"--unix-socket {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise LoadgenError(f"--unix-socket {path}: not a socket")
    return path


def encode_request(
    endpoint: Endpoint,
    method: str,
    path: str,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> bytes:
    """HTTP/1.1 request bytes with Host and, where there is a body, Content-Length."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {endpoint.authority}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get_template(endpoint: Endpoint, path: str) -> RequestTemplate:
    """The single-URL workload: one kind, named after the request line."""
    return RequestTemplate(f"GET {path}", encode_request(endpoint, "GET", path))
