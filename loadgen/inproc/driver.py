"""The in-process driver: a scenario's requests called straight into an ASGI app, no server and
no sockets.

This file runs as a script in the target's own environment (`python -P driver.py`), which
need not have loadgen installed: it imports nothing but the standard library and the app. It
reads its spec as JSON on stdin and writes its answers as the last line of stdout, so that no
file name (a temporary folder's random one) reaches the process and moves an instruction count.
The spec, written by loadgen.inproc.measure: the app ("module:attribute", found on the app
directory), the requests as ASGI scopes and bodies, and what to do:

- "time": per request kind, pyperf-style: the number of calls per sample is doubled until a
  sample lasts `min_time_s`, then `repeats` samples of that many calls are timed;
- "count": `count` calls of the one kind `kind`, nothing timed (loadgen runs this under
  callgrind at two counts and takes the difference, so start-up cost cancels); with
  `check_all` false, only that kind's variants are called first.

Every variant is called once first and its answer (status and body) written to OUT for loadgen
to check with the same verifier as over HTTP; a later call that answers another status is
counted, and loadgen fails the run on it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import importlib
import json
import sys
import time
from typing import Any

MARKER = "loadgen-inproc-result: "
CLIENT = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 8000)


class Call:
    """One request's receive and send: the body in one message; the disconnect only once the
    response is complete, as a server does (Starlette's streaming responses listen for it)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent_body = False
        self.status = 0
        self.chunks: list[bytes] = []
        self.done = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.done.set()


def scope_of(request: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": request["method"], "scheme": "http",
            "path": request["path"], "raw_path": request["raw_path"].encode("latin-1"),
            "query_string": request["query_string"].encode("latin-1"), "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                        for k, v in request["headers"]],
            "client": CLIENT, "server": SERVER, "state": dict(state)}


class Lifespan:
    """The app's lifespan protocol, run as a server runs it; an app that raises on the lifespan
    scope does not support it and is called without (uvicorn's "auto")."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "state": self.state}
        with contextlib.suppress(Exception):  # no lifespan support: used without it
            await self.app(scope, self.inbox.get, self.outbox.put)
        # An app that returns (or raises) without answering has no lifespan; after a
        # shutdown.complete this message is never read.
        await self.outbox.put({"type": "lifespan.unsupported"})

    async def _step(self, message: str) -> None:
        await self.inbox.put({"type": f"lifespan.{message}"})
        answer = await self.outbox.get()
        if answer["type"].endswith(".failed"):
            raise SystemExit(f"lifespan {message} failed: {answer.get('message', '')}")
        if answer["type"] == "lifespan.unsupported":
            self.task = None

    async def startup(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())
        await self._step("startup")

    async def shutdown(self) -> None:
        if self.task is not None:
            await self._step("shutdown")
            await self.task


async def call(app: Any, request: dict[str, Any], body: bytes,
               state: dict[str, Any]) -> Call:
    one = Call(body)
    await app(scope_of(request, state), one.receive, one.send)
    return one


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    module, _, attribute = spec["app"].partition(":")
    app = getattr(importlib.import_module(module), attribute)
    requests = spec["requests"]
    bodies = [base64.b64decode(r["body"]) for r in requests]
    lifespan = Lifespan(app)
    await lifespan.startup()
    state = lifespan.state
    # Counting one kind, only its variants are called first: what ran before the counted calls
    # is then the same whichever other kinds the scenario has.
    only = spec["kind"] if spec["mode"] == "count" and not spec["check_all"] else None
    first: dict[int, dict[str, Any]] = {}
    for index, (request, body) in enumerate(zip(requests, bodies, strict=True)):
        if only in (None, request["kind"]):
            one = await call(app, request, body, state)
            first[index] = {"status": one.status,
                            "body": base64.b64encode(b"".join(one.chunks)).decode("ascii")}
    expected = {index: answer["status"] for index, answer in first.items()}
    by_kind: dict[str, list[int]] = {}
    for index, request in enumerate(requests):
        by_kind.setdefault(request["kind"], []).append(index)
    wrong: dict[str, int] = {}

    async def calls(kind: str, n: int) -> None:
        indices = by_kind[kind]
        for i in range(n):
            index = indices[i % len(indices)]
            one = await call(app, requests[index], bodies[index], state)
            if one.status != expected[index]:
                wrong[kind] = wrong.get(kind, 0) + 1

    out: dict[str, Any] = {"first": first, "wrong_status": wrong}
    if spec["mode"] == "count":
        # The collector's state at the start of the counted calls would otherwise depend on
        # everything before them (the spec's size, the other kinds' first calls) and move the
        # count per call by a few hundred instructions: collect, and freeze what survives, so
        # the calls start alike and later collections do not walk the start-up heap.
        gc.collect()
        gc.freeze()
        await calls(spec["kind"], spec["count"])
    else:
        samples: dict[str, list[float]] = {}
        loops: dict[str, int] = {}
        for kind in by_kind:
            n = 1
            while True:  # calibration, which also warms the kind up
                started = time.perf_counter_ns()
                await calls(kind, n)
                if time.perf_counter_ns() - started >= spec["min_time_s"] * 1e9:
                    break
                n *= 2
            loops[kind] = n
            samples[kind] = []
            for _ in range(spec["repeats"]):
                started = time.perf_counter_ns()
                await calls(kind, n)
                samples[kind].append((time.perf_counter_ns() - started) / n / 1000)
        out |= {"samples_us": samples, "loops": loops}
    await lifespan.shutdown()
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    sys.path.insert(0, spec["app_dir"])
    result = asyncio.run(drive(spec))
    # The last line of stdout, after whatever the app printed.
    sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
