"""A target served by hand (`loadgen serve`), pinned as a run that starts its server pins it: on
the cores the generator leaves to the server. And --workers, checked alike by every command
that starts a server."""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from loadgen.cpus import format_cores, split
from loadgen.errors import LoadgenError
from loadgen.servers.launchers import ServerSpec, running_server, target_app


def checked_workers(workers: int) -> int:
    """--workers as every command that starts a server takes it."""
    if workers < 1:
        raise LoadgenError("--workers must be at least 1")
    return workers


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """The serve command's options: each field's default is its option's, and the text in its
    Annotated type is its option's help."""

    target: str  # NAME_app.py in targets/
    server: str = "uvicorn"
    port: Annotated[int, "The port to listen on; another free one if it is taken."] = 8000
    workers: int = 1


def serve(options: ServeOptions, say: Callable[[str], None]) -> None:
    """Serve the target on 127.0.0.1 until Ctrl-C, saying where."""
    cores, _ = split()
    spec = ServerSpec(options.server, target_app(options.target),
                      workers=checked_workers(options.workers), cpus=cores, port=options.port)
    with running_server(spec) as running:
        if running.endpoint.port != options.port:
            say(f"port {options.port} is taken; using {running.endpoint.port}")
        say(f"{options.target} on {options.server} at http://{running.endpoint.authority}/ "
            f"(cores {format_cores(cores)}); Ctrl-C stops it")
        try:
            signal.pause()
        except KeyboardInterrupt:
            say("stopping")
