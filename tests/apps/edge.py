"""A test ASGI app with the responses a load generator must get right.

/plaintext  fixed-length body            /chunked  body in three chunks, no Content-Length
/close      answers with Connection: close          /status/NNN  an empty response with that status
/health     200 once ready
/degrade/body    "good" for the first 5 requests, then "bad" (status 200 all along)
/degrade/status  200 for the first 5 requests, then 500
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
served = {"/degrade/body": 0, "/degrade/status": 0}


async def app(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Message]],
              send: Callable[[Message], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return  # no lifespan: uvicorn goes on without it
    path: str = scope["path"]
    if path == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"text/plain")]
    status, body = 200, b"ok"
    if path == "/close":
        headers.append((b"connection", b"close"))
    elif path in served:
        served[path] += 1
        if served[path] > 5:
            status, body = (200, b"bad") if path.endswith("body") else (500, b"good")
        else:
            body = b"good"
    elif path.startswith("/status/"):
        status, body = int(path.removeprefix("/status/")), b""
    elif path not in ("/plaintext", "/health"):
        status, body = 404, b"Not Found"
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
