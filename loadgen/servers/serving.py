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
    protocol: Annotated[str, "http1; https on a certificate made for it (its authority's file "
                             "is said, for --ca); uds on a Unix socket."] = "http1"


def serve(options: ServeOptions, say: Callable[[str], None]) -> None:
    """Serve the target on 127.0.0.1 until Ctrl-C, saying where."""
    cores, _ = split()
    spec = ServerSpec(options.server, target_app(options.target),
                      workers=checked_workers(options.workers), cpus=cores, port=options.port,
                      protocol=options.protocol)
    with running_server(spec) as running:
        endpoint = running.endpoint
        if endpoint.port != options.port and not endpoint.unix:
            say(f"port {options.port} is taken; using {endpoint.port}")
        trust = f"; its certificate's authority: {endpoint.tls.ca}" if endpoint.tls else ""
        via = f" via {endpoint.unix}" if endpoint.unix else ""
        say(f"{options.target} on {options.server} at {endpoint.url}/{via} "
            f"(cores {format_cores(cores)}){trust}; Ctrl-C stops it")
        try:
            signal.pause()
        except KeyboardInterrupt:
            say("stopping")
