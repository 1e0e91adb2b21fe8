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
- "count": each kind of `kinds` in a child process forked once the app has started up: its
  variants' first calls, `warmup` calls, then `calls` calls between two marks and an empty
  mark (loadgen runs this under callgrind, which dumps its counters at each mark); the answer
  says each kind's child's pid, whose dumps hold its counts;
- "check": every variant called once, nothing measured.

In "time" and "check", every variant's first answer (status and body) is in the answer for
loadgen to check with the same verifier as over HTTP. In every mode a later call that answers
another status than its variant's first is counted, and loadgen fails the run on it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import importlib
import json
import os
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


class Target:
    """The app after its lifespan startup, with the spec's requests decoded and grouped by kind:
    what every counted child process starts from."""

    def __init__(self, spec: dict[str, Any]) -> None:
        module, _, attribute = spec["app"].partition(":")
        self.app = getattr(importlib.import_module(module), attribute)
        self.requests = spec["requests"]
        self.bodies = [base64.b64decode(r["body"]) for r in self.requests]
        self.lifespan = Lifespan(self.app)
        self.by_kind: dict[str, list[int]] = {}
        for index, request in enumerate(self.requests):
            self.by_kind.setdefault(request["kind"], []).append(index)
        self.expected: dict[int, int] = {}
        self.wrong: dict[str, int] = {}

    async def first(self, only: str | None) -> dict[int, dict[str, Any]]:
        """Each variant (of kind `only`, or all) called once: its status and body."""
        first: dict[int, dict[str, Any]] = {}
        for index, (request, body) in enumerate(zip(self.requests, self.bodies, strict=True)):
            if only in (None, request["kind"]):
                one = await call(self.app, request, body, self.lifespan.state)
                first[index] = {"status": one.status,
                                "body": base64.b64encode(b"".join(one.chunks)).decode("ascii")}
                self.expected[index] = one.status
        return first

    async def calls(self, kind: str, n: int) -> None:
        indices = self.by_kind[kind]
        for i in range(n):
            index = indices[i % len(indices)]
            one = await call(self.app, self.requests[index], self.bodies[index],
                             self.lifespan.state)
            if one.status != self.expected[index]:
                self.wrong[kind] = self.wrong.get(kind, 0) + 1


async def timed(target: Target, spec: dict[str, Any]) -> dict[str, Any]:
    """Every variant's first answer, then per kind: calls per sample doubled until a sample
    lasts `min_time_s`, then `repeats` samples of that many calls."""
    first = await target.first(None)
    samples: dict[str, list[float]] = {}
    loops: dict[str, int] = {}
    for kind in target.by_kind:
        n = 1
        while True:  # calibration, which also warms the kind up
            started = time.perf_counter_ns()
            await target.calls(kind, n)
            if time.perf_counter_ns() - started >= spec["min_time_s"] * 1e9:
                break
            n *= 2
        loops[kind] = n
        samples[kind] = []
        for _ in range(spec["repeats"]):
            started = time.perf_counter_ns()
            await target.calls(kind, n)
            samples[kind].append((time.perf_counter_ns() - started) / n / 1000)
    return {"first": first, "wrong_status": target.wrong, "samples_us": samples, "loops": loops}


async def counted(target: Target, kind: str, warmup: int, calls: int) -> None:
    """One kind in a child of its own: its variants' first calls, `warmup` calls, then the
    counted calls between two marks, then an empty pair of marks (what a mark itself costs)."""
    await target.first(kind)
    # The collector's state at the counted calls would otherwise depend on what ran before
    # them: collect, and freeze what survives, so the calls start alike and later collections
    # do not walk the start-up heap.
    gc.collect()
    gc.freeze()
    await target.calls(kind, warmup)
    os.sched_yield()
    await target.calls(kind, calls)
    os.sched_yield()
    os.sched_yield()


def count(spec: dict[str, Any]) -> dict[str, Any]:
    """Each of the spec's kinds counted in a child forked from one parent that has imported
    the app and run its startup: under callgrind the start-up is then paid once, and every
    child starts from the same memory, whatever kinds were counted before it. The children
    run `parallel` at a time; the parent allocates nothing between forks that it keeps, so
    each child's heap is the same."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    target = Target(spec)
    loop.run_until_complete(target.lifespan.startup())
    read, write = os.pipe()
    kinds = spec["kinds"]
    running = 0
    sys.stdout.flush()
    sys.stderr.flush()
    # Nothing the parent keeps changes between forks: no pid is stored (the children say
    # theirs) and what os.wait returns is dropped, so each child forks from the same heap.
    for kind in kinds:
        if running == spec["parallel"]:
            os.wait()
            running -= 1
        if os.fork() == 0:
            code = 0
            try:
                loop.run_until_complete(counted(target, kind, spec["warmup"], spec["calls"]))
                said = [kind, os.getpid(), target.wrong.get(kind, 0)]
            except BaseException as error:  # the parent reports it: the child only exits
                said, code = [kind, os.getpid(), repr(error)], 1
            os.write(write, (json.dumps(said) + "\n").encode())
            os._exit(code)
        running += 1
    for _ in range(running):
        os.wait()
    os.close(write)
    with os.fdopen(read) as lines:
        told = {kind: (pid, wrong) for kind, pid, wrong in map(json.loads, lines)}
    loop.run_until_complete(target.lifespan.shutdown())
    loop.close()
    for kind in kinds:
        if kind not in told or isinstance(told[kind][1], str):
            raise SystemExit(f"counting {kind!r} failed: "
                             f"{told[kind][1] if kind in told else 'its process died'}")
    return {"pids": {kind: told[kind][0] for kind in kinds},
            "wrong_status": {kind: told[kind][1] for kind in kinds if told[kind][1]}}


async def checked(spec: dict[str, Any]) -> dict[str, Any]:
    """Every variant's first answer, nothing measured."""
    target = Target(spec)
    await target.lifespan.startup()
    first = await target.first(None)
    await target.lifespan.shutdown()
    return {"first": first, "wrong_status": {}}


async def timed_run(spec: dict[str, Any]) -> dict[str, Any]:
    target = Target(spec)
    await target.lifespan.startup()
    out = await timed(target, spec)
    await target.lifespan.shutdown()
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    sys.path.insert(0, spec["app_dir"])
    mode = spec["mode"]
    result = count(spec) if mode == "count" else asyncio.run(
        timed_run(spec) if mode == "time" else checked(spec))
    # The last line of stdout, after whatever the app printed.
    sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
