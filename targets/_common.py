"""What every target shares: its size settings, the routing table's shape, and the digest that
/upload and /urlencoded answer with, so a scenario can check that the parts were really parsed.

Settings come from environment variables read at import:
  ROUTES       static routes /r{i}/items and as many parameter routes /r{i}/items/{id:int}
               (default 100 each)
  MOUNT_DEPTH  how deep the Mount chain to /m0/m1/.../leaf goes (default 2; 0 means /leaf)
  HOSTS        Host routes h0.example.com ... answering /host (default 10)
  MAX_PART_SIZE  the form parser's part-size limit, where the framework takes one (default:
               the framework's own)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Any

ROUTES = int(os.environ.get("ROUTES", "100"))
MOUNT_DEPTH = int(os.environ.get("MOUNT_DEPTH", "2"))
HOSTS = int(os.environ.get("HOSTS", "10"))
MAX_PART_SIZE = int(os.environ["MAX_PART_SIZE"]) if os.environ.get("MAX_PART_SIZE") else None

PLAINTEXT = b"Hello, world!"
MESSAGE = {"message": "Hello, world!"}
CONVERTORS = ("str", "int", "float", "uuid", "path")


def mount_prefixes() -> list[str]:
    """The Mount chain's prefixes, outermost first: ['/m0', '/m1', ...]."""
    return [f"/m{level}" for level in range(MOUNT_DEPTH)]


def host_names() -> list[str]:
    return [f"h{i}.example.com" for i in range(HOSTS)]


def digest(parts: Iterable[tuple[str, bytes, bool]]) -> dict[str, object]:
    """Counts and a sha256 over (name, content, is_file) parts in the order they came.

    Each part adds name, NUL, content, NUL to the hash, so both the split into parts and every
    byte of them must survive the parser for the digest to match.
    """
    sha = hashlib.sha256()
    fields = files = size = 0
    for name, content, is_file in parts:
        sha.update(name.encode() + b"\0" + content + b"\0")
        size += len(content)
        if is_file:
            files += 1
        else:
            fields += 1
    return {"fields": fields, "files": files, "bytes": size, "sha256": sha.hexdigest()}


class State:
    """What the app prepares at start-up: in the lifespan where the server runs one, else on
    first use (daphne runs no lifespan)."""

    def __init__(self) -> None:
        self.ready = False
        self.started_by_lifespan = False

    def start(self, by_lifespan: bool) -> None:
        self.ready = True
        self.started_by_lifespan = by_lifespan

    def ensure(self) -> None:
        if not self.ready:
            self.start(by_lifespan=False)


class TargetHeader:
    """A pure ASGI middleware that names the target in a header, so that every request of a
    framework target crosses one middleware, as in a real app."""

    def __init__(self, app: Any, name: bytes) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-target", self.name)]
            await send(message)

        await self.app(scope, receive, send_with_header)
