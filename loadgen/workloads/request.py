"""Where requests go and the bytes they are sent as, encoded once per template."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loadgen.errors import LoadgenError
from loadgen.workloads.checks import Expectation


@dataclass(frozen=True)
class Endpoint:
    """A plain-HTTP server address."""

    host: str
    port: int

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RequestTemplate:
    """One kind of request, pre-encoded: the engine writes `data` as it is. Every response's
    status is counted against `expect.status`; sampled responses are checked in full."""

    kind: str
    data: bytes
    expect: Expectation = field(default_factory=lambda: Expectation((200,)))


def parse_url(url: str) -> tuple[Endpoint, str]:
    """The endpoint and the path (with query) of an http:// URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LoadgenError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme == "https":
        raise LoadgenError(f"{url}: https is not supported by the fast engine yet; use http://")
    if parts.scheme != "http" or not parts.hostname:
        raise LoadgenError(f"invalid URL {url!r}: expected http://host[:port]/path")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Endpoint(parts.hostname, port or 80), path


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
