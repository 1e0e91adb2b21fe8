"""A test target that does measurably more work per request than `raw`: /plaintext burns
BURN_US microseconds of CPU (default 300) before it answers."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
BURN_NS = int(os.environ.get("BURN_US", "300")) * 1000


async def app(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Message]],
              send: Callable[[Message], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/plaintext":
        deadline = time.perf_counter_ns() + BURN_NS
        while time.perf_counter_ns() < deadline:
            pass
    body = b"Hello, world!" if scope["path"] in ("/plaintext", "/health") else b"Not Found"
    status = 404 if body == b"Not Found" else 200
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
