"""The routing and form workloads on FastAPI: its own path operations (validation and
serialisation included) for the endpoints, Starlette's Mount and Host where FastAPI has none of
its own. Sizes: see _common.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, Router

from _common import (
    MESSAGE,
    PLAINTEXT,
    ROUTES,
    TargetHeader,
    host_names,
    mount_prefixes,
)
from _starlette_common import form_digest, lifespan, state

app = FastAPI(lifespan=lifespan, middleware=[Middleware(TargetHeader, name=b"fastapi")],
              openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> bytes:
    return PLAINTEXT


@app.get("/json")
async def json_endpoint() -> dict[str, str]:
    return MESSAGE


@app.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    state.ensure()
    return "ok"


async def upload(request: Request) -> dict[str, object]:
    return await form_digest(request)


app.add_api_route("/upload", upload, methods=["POST"])
app.add_api_route("/urlencoded", upload, methods=["POST"])


@app.get("/conv/str/{v}")
async def conv_str(v: str) -> dict[str, str]:
    return {"v": v}


@app.get("/conv/int/{v}")
async def conv_int(v: int) -> dict[str, str]:
    return {"v": str(v)}


@app.get("/conv/float/{v}")
async def conv_float(v: float) -> dict[str, str]:
    return {"v": str(v)}


@app.get("/conv/uuid/{v}")
async def conv_uuid(v: uuid.UUID) -> dict[str, str]:
    return {"v": str(v)}


@app.get("/conv/path/{v:path}")
async def conv_path(v: str) -> dict[str, str]:
    return {"v": v}


def _static(path: str) -> Any:
    async def endpoint() -> PlainTextResponse:
        return PlainTextResponse(path)
    return endpoint


async def item(id: int) -> dict[str, int]:
    return {"id": id}


for i in range(ROUTES):
    app.add_api_route(f"/r{i}/items", _static(f"/r{i}/items"), methods=["GET"])
for i in range(ROUTES):
    app.add_api_route(f"/r{i}/items/{{id}}", item, methods=["GET"])


async def _leaf(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.url.path)


def _mounted() -> BaseRoute:
    route: BaseRoute = Route("/leaf", _leaf, methods=["GET"])
    for prefix in reversed(mount_prefixes()):
        route = Mount(prefix, routes=[route])
    return route


app.router.routes.append(_mounted())
for name in host_names():
    app.host(name, Router(routes=[Route("/host", _leaf, methods=["GET"])]))
