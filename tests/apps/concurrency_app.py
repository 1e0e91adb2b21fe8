"""A test target that sees how requests arrive: /slow waits 50 ms before it answers; /seen
answers the most requests that were in /slow at once, and how many connections (client
addresses) they came on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
inside = 0
most = 0
clients: set[tuple[str, int]] = set()


async def app(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Message]],
              send: Callable[[Message], Awaitable[None]]) -> None:
    global inside, most
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        clients.add(tuple(scope["client"]))
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.05)
        inside -= 1
        body = b"slow"
    elif scope["path"] == "/seen":
        body = json.dumps({"most": most, "connections": len(clients)}).encode()
    else:
        body = b"ok"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
