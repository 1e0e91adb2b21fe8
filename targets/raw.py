"""Plain ASGI, no framework: the ceiling of whatever server runs it.

Endpoints: /plaintext (text), /json (a small JSON object), /health (200 once ready);
anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_RESPONSES = {
    "/plaintext": (200, b"text/plain", b"Hello, world!"),
    "/json": (200, b"application/json", b'{"message":"Hello, world!"}'),
    "/health": (200, b"text/plain", b"ok"),
}
_NOT_FOUND = (404, b"text/plain", b"Not Found")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    status, content_type, body = _RESPONSES.get(scope["path"], _NOT_FOUND)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
