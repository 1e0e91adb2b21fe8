"""The routing and form workloads on Starlette, built so that it runs unchanged on every release
from 0.30 to the latest 1.x: `Starlette(routes=..., middleware=..., lifespan=...)`, no decorators,
no on_startup. Sizes: see _common.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Host, Mount, Route, Router

from _common import (
    CONVERTORS,
    MESSAGE,
    PLAINTEXT,
    ROUTES,
    TargetHeader,
    host_names,
    mount_prefixes,
)
from _starlette_common import form_digest, lifespan, state


async def plaintext(request: Request) -> Response:
    return PlainTextResponse(PLAINTEXT)


async def json_endpoint(request: Request) -> Response:
    return JSONResponse(MESSAGE)


async def health(request: Request) -> Response:
    state.ensure()
    return PlainTextResponse(b"ok")


async def items(request: Request) -> Response:
    return PlainTextResponse(request.url.path)


async def item(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["id"]})


async def convertor(request: Request) -> Response:
    return JSONResponse({"v": str(request.path_params["v"])})


async def upload(request: Request) -> Response:
    return JSONResponse(await form_digest(request))


def _mounted() -> BaseRoute:
    route: BaseRoute = Route("/leaf", items, methods=["GET"])
    for prefix in reversed(mount_prefixes()):
        route = Mount(prefix, routes=[route])
    return route


routes: list[BaseRoute] = [
    Route("/plaintext", plaintext, methods=["GET"]),
    Route("/json", json_endpoint, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/upload", upload, methods=["POST"]),
    Route("/urlencoded", upload, methods=["POST"]),
    *(Route(f"/conv/{kind}/{{v:{kind}}}", convertor, methods=["GET"]) for kind in CONVERTORS),
    *(Route(f"/r{i}/items", items, methods=["GET"]) for i in range(ROUTES)),
    *(Route(f"/r{i}/items/{{id:int}}", item, methods=["GET"]) for i in range(ROUTES)),
    _mounted(),
    *(Host(name, app=Router(routes=[Route("/host", items, methods=["GET"])]))
      for name in host_names()),
]

app = Starlette(routes=routes, middleware=[Middleware(TargetHeader, name=b"starlette")],
                lifespan=lifespan)
