"""A test target for the in-process figures: routes /a, /b and /c each add up the squares of
WORK numbers in a Python loop, the same work on every route; `make_app(extra)` gives /b `extra`
more numbers (tests/apps/heavier_app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WORK = 500


def squares(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def make_app(extra: int = 0) -> Callable[[MutableMapping[str, Any], Receive, Send],
                                         Awaitable[None]]:
    work = {"/a": WORK, "/b": WORK + extra, "/c": WORK}

    async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if path in work:
            status, body = 200, f"{path} {squares(work[path])}".encode()
        else:
            status, body = (200, b"ok") if path == "/health" else (404, b"not found")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


app = make_app()
