"""Plain ASGI, no framework: the ceiling of whatever server runs it.

The same endpoints as the framework targets, answered the same way (status codes included), but
routed by dictionary look-up instead of a scan, and with python-multipart's low-level parsers
instead of a framework's form handling. Sizes: see _common.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header

from _common import (
    CONVERTORS,
    MESSAGE,
    PLAINTEXT,
    ROUTES,
    State,
    digest,
    host_names,
    mount_prefixes,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Answer = tuple[int, bytes, bytes]  # status, content type, body

state = State()
TEXT, JSON = b"text/plain; charset=utf-8", b"application/json"

_STATIC = {f"/r{i}/items" for i in range(ROUTES)} | {"".join(mount_prefixes()) + "/leaf"}
_POST_ONLY = {"/upload", "/urlencoded"}
_ITEM = re.compile(r"^/r(\d+)/items/([0-9]+)$")
_CONV = {"str": r"[^/]+", "int": r"[0-9]+", "float": r"[0-9]+(?:\.[0-9]+)?",
         "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "path": r".*"}
_CONVERTOR = {kind: re.compile(f"^/conv/{kind}/({_CONV[kind]})$") for kind in CONVERTORS}
_HOSTS = set(host_names())


def _json(payload: object) -> Answer:
    return 200, JSON, json.dumps(payload, separators=(",", ":")).encode()


def _convert(kind: str, text: str) -> str:
    value: object = {"int": int, "float": float, "uuid": uuid.UUID}.get(kind, str)(text)
    return str(value)


def _get(path: str, host: str) -> Answer | None:
    """The answer to GET path, or None where no route matches."""
    if path == "/plaintext":
        return 200, TEXT, PLAINTEXT
    if path == "/json":
        return _json(MESSAGE)
    if path == "/health":
        state.ensure()
        return 200, TEXT, b"ok"
    if path in _STATIC:
        return 200, TEXT, path.encode()
    if path == "/host" and host in _HOSTS:
        return 200, TEXT, path.encode()
    match = _ITEM.match(path)
    if match and int(match.group(1)) < ROUTES:
        return _json({"id": int(match.group(2))})
    for kind, pattern in _CONVERTOR.items():
        match = pattern.match(path)
        if match:
            return _json({"v": _convert(kind, match.group(1))})
    return None


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _multipart(content_type: bytes, body: bytes) -> Answer:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        return 400, TEXT, b"missing boundary"
    parts: list[tuple[str, bytes, bool]] = []
    current: dict[str, Any] = {}

    def on_part_begin() -> None:
        current.update(headers={}, data=[], name=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current["name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current["headers"][current["name"].lower()] = (
            current["headers"].get(current["name"].lower(), b"") + data[start:end])

    def on_header_end() -> None:
        current["name"] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current["data"].append(data[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(current["headers"].get(b"content-disposition", b""))
        parts.append((disposition.get(b"name", b"").decode(), b"".join(current["data"]),
                      b"filename" in disposition))

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    parser.write(body)
    parser.finalize()
    return _json(digest(parts))


async def _post(path: str, scope: Scope, receive: Receive) -> Answer | None:
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    if path == "/upload":
        return _multipart(content_type, await _body(receive))
    if path == "/urlencoded":
        body = await _body(receive)
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        return _json(digest((name, value.encode(), False) for name, value in pairs))
    return None


async def _respond(send: Send, status: int, content_type: bytes, body: bytes,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state.start(by_lifespan=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").split(":")[0]
    answer = await _post(path, scope, receive) if method == "POST" else None
    if answer is None and method in ("GET", "HEAD"):
        answer = _get(path, host)
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if answer is not None:
        await _respond(send, *answer)
    elif path in _POST_ONLY or _get(path, host) is not None:  # exists, for another method
        allow = b"POST" if path in _POST_ONLY else b"GET"
        await _respond(send, 405, TEXT, b"Method Not Allowed", [(b"allow", allow)])
    elif path != "/" and _get(other, host) is not None:
        # As Starlette's redirect_slashes: the other spelling exists.
        await _respond(send, 307, TEXT, b"", [(b"location", other.encode())])
    else:
        await _respond(send, 404, TEXT, b"Not Found")
