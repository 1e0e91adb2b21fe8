"""A scenario's requests, encoded once into pre-built variants the engine replays as bytes.

httpx builds every body (multipart boundaries, form encoding, JSON) and its headers; the result
is serialised to HTTP/1.1 bytes here, so nothing is encoded on the hot path. Each request gets
several variants, each with its own draw of random paths and content, and its own expected
answer (a form's digest depends on the bytes drawn).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from loadgen.errors import LoadgenError
from loadgen.workloads.checks import Expectation
from loadgen.workloads.request import Endpoint, RequestTemplate
from loadgen.workloads.scenario import Body, File, Form, Json, Multipart, Request

_PATTERNS = {"zeros": b"\0", "text": b"lorem ipsum dolor sit amet ", "crlf": b"\r\n",
             "crlf-dash": b"\r\n--"}


@dataclass(frozen=True)
class Variant:
    """One encoded request: what the preflight sends with httpx and the engine as bytes."""

    name: str
    request: httpx.Request
    expect: Expectation


def content(file: File, rng: random.Random) -> bytes:
    """`file.size` bytes of its pattern; 'random' is seeded, so a variant is reproducible."""
    if file.pattern == "random":
        return rng.randbytes(file.size)
    unit = _PATTERNS[file.pattern]
    return (unit * (file.size // len(unit) + 1))[:file.size]


def parts_digest(parts: Iterable[tuple[str, bytes, bool]]) -> dict[str, object]:
    """The answer the targets give for these form parts. Written here a second time on purpose:
    the checker must not share code with the app it checks (targets/_common.py)."""
    sha = hashlib.sha256()
    fields = files = size = 0
    for name, data, is_file in parts:
        sha.update(name.encode() + b"\0" + data + b"\0")
        size += len(data)
        files += is_file
        fields += not is_file
    return {"fields": fields, "files": files, "bytes": size, "sha256": sha.hexdigest()}


def _encode_body(body: Body, rng: random.Random, headers: dict[str, str]
                 ) -> tuple[dict[str, object], list[tuple[str, bytes, bool]]]:
    """httpx keyword arguments for the body, and its parts as the target will see them."""
    if isinstance(body, Json):
        return {"content": json.dumps(body.value).encode(),
                "headers": {**headers, "content-type": "application/json"}}, []
    if isinstance(body, Form):
        return {"data": dict(body.fields), "headers": headers}, [
            (k, v.encode(), False) for k, v in body.fields]
    files = [(f.name, (f.filename, content(f, rng), f.content_type)) for f in body.files]
    parts = [(k, v.encode(), False) for k, v in body.fields]
    parts += [(name, spec[1], True) for name, spec in files]
    return {"data": dict(body.fields), "files": files, "headers": headers}, parts


def _drawn(req: Request, what: str, rng: random.Random) -> Any:
    """The request's path or body, drawn where it is a function of the scenario's; what it
    raises is one line naming the request."""
    value = getattr(req, what)
    if not callable(value):
        return value
    try:
        return value(rng)
    except Exception as exc:  # the scenario's own code
        raise LoadgenError(f"request {req.name!r}: its {what} function raised "
                           f"{type(exc).__name__}: {exc}") from None


def _build(endpoint: Endpoint, req: Request, rng: random.Random) -> Variant:
    path = _drawn(req, "path", rng)
    if not isinstance(path, str) or not path.startswith("/"):
        raise LoadgenError(f"request {req.name!r}: its path function gave {path!r}; a path "
                           "starts with /")
    url = endpoint.url + path
    headers = dict(req.headers)
    body = _drawn(req, "body", rng)
    if isinstance(body, Form | Multipart) and len(body.fields) != len(dict(body.fields)):
        raise LoadgenError(f"request {req.name!r}: form field names must be distinct")
    if body is None:
        request, parts = httpx.Request(req.method, url, headers=headers), None
    else:
        kwargs, parts = _encode_body(body, rng, headers)
        request = httpx.Request(req.method, url, **kwargs)  # type: ignore[arg-type]
        request.read()
        if isinstance(body, Multipart) and (body.preamble or body.epilogue):
            wrapped = body.preamble + request.content + body.epilogue
            request = httpx.Request(req.method, url, content=wrapped, headers={
                **request.headers, "content-length": str(len(wrapped))})
            request.read()
    expect = Expectation(req.check.status, req.check.contains,
                         parts_digest(parts) if req.check.digest and parts is not None
                         else req.check.json)
    return Variant(req.name, request, expect)


def build_variants(endpoint: Endpoint, requests: list[Request], count: int,
                   seed: int) -> list[list[Variant]]:
    """`count` variants of each request (one where nothing is drawn at random)."""
    rng = random.Random(seed)
    built = []
    for req in requests:
        drawn = callable(req.path) or callable(req.body) or _random_content(req.body)
        n = (req.variants or count) if drawn else 1
        built.append([_build(endpoint, req, rng) for _ in range(n)])
    return built


def _random_content(body: object) -> bool:
    return isinstance(body, Multipart) and any(f.pattern == "random" for f in body.files)


def to_bytes(request: httpx.Request) -> bytes:
    """The request as HTTP/1.1 bytes on the wire."""
    head = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1"]
    head += [f"{name}: {value}" for name, value in request.headers.multi_items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.content


def templates(variants: list[list[Variant]]) -> tuple[RequestTemplate, ...]:
    return tuple(RequestTemplate(v.name, to_bytes(v.request), v.expect)
                 for group in variants for v in group)


def mix(requests: list[Request], variants: list[list[Variant]], length: int,
        seed: int) -> tuple[int, ...]:
    """An order of template indices in which each request appears in proportion to its weight
    (variants evenly within it); the engine cycles through it."""
    rng = random.Random(seed)
    index, starts = 0, []
    for group in variants:
        starts.append(index)
        index += len(group)
    chosen = rng.choices(range(len(requests)), [r.weight for r in requests], k=length)
    return tuple(starts[r] + rng.randrange(len(variants[r])) for r in chosen)


def cycle_of(templates: Sequence[RequestTemplate], mix: Sequence[int],
             check_every: int) -> list[tuple[RequestTemplate, Expectation | None]]:
    """The cycle a worker sends: (template, its expectation if this one is checked in full),
    in the mix's order (the templates in turn if there is no mix)."""
    order = mix or tuple(range(len(templates)))
    # Long enough that sampling every Nth does not always land on the same template.
    length = len(order) * max(1, -(-check_every // len(order))) if check_every else len(order)
    cycle = []
    for i in range(length):
        template = templates[order[i % len(order)]]
        cycle.append((template, template.expect if check_every and i % check_every == 0 else None))
    return cycle
