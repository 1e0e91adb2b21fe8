"""What a run sends: a single URL, or a scenario's mix, made concrete for one endpoint."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from loadgen.errors import LoadgenError
from loadgen.workloads.checks import verify
from loadgen.workloads.request import Endpoint, RequestTemplate, get_template
from loadgen.workloads.scenario import Scenario
from loadgen.workloads.tls import client_context, handshake_problem
from loadgen.workloads.variants import Variant, build_variants, mix, templates

MIX_LENGTH = 4096


@dataclass(frozen=True)
class Prepared:
    """Templates for the engine, their order, and the variants the preflight sends."""

    templates: tuple[RequestTemplate, ...]
    mix: tuple[int, ...] = ()
    variants: list[Variant] = field(default_factory=list)
    flow: tuple[str, tuple[tuple[str, Any], ...]] | None = None  # see WorkerPlan.flow


class Workload(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def target_env(self) -> tuple[tuple[str, str], ...]:
        """What the target's environment must hold for this workload (sizes)."""

    def prepare(self, endpoint: Endpoint) -> Prepared: ...


@dataclass(frozen=True)
class UrlWorkload:
    """GET one path: a single request kind, expected to answer 200."""

    path: str
    target_env: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return self.path

    def prepare(self, endpoint: Endpoint) -> Prepared:
        return Prepared((get_template(endpoint, self.path),))


@dataclass(frozen=True)
class ScenarioWorkload:
    """A scenario with its parameter values, encoded into `variants` variants per request."""

    scenario: Scenario
    values: dict[str, Any]
    variants: int = 16
    seed: int = 0

    @property
    def label(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.values.items())
        return f"scenario {self.scenario.name}" + (f" ({params})" if params else "")

    @property
    def target_env(self) -> tuple[tuple[str, str], ...]:
        return self.scenario.target_env(self.values)

    def prepare(self, endpoint: Endpoint) -> Prepared:
        requests = self.scenario.requests(self.values)
        built = build_variants(endpoint, requests, self.variants, self.seed)
        flow = (str(self.scenario.path), tuple(self.values.items())) \
            if self.scenario.flow is not None else None
        return Prepared(templates(built), mix(requests, built, MIX_LENGTH, self.seed),
                        [v for group in built for v in group], flow)


def http_client(endpoint: Endpoint, timeout_s: float) -> httpx.Client:
    """An httpx client that reaches `endpoint` as the engine does: over its Unix socket if it
    has one, checking its TLS certificate as the engine's connections will, over HTTP/2 if the
    engine's connections will (cleartext: with prior knowledge)."""
    h2 = bool(endpoint.streams)
    verify = client_context(endpoint.tls, h2) if endpoint.tls else True
    transport = httpx.HTTPTransport(uds=endpoint.unix, verify=verify, http1=not h2, http2=h2)
    return httpx.Client(timeout=timeout_s, follow_redirects=False, verify=verify,
                        transport=transport)


def preflight(variants: list[Variant], endpoint: Endpoint, timeout_s: float) -> None:
    """Send every variant once with httpx; the first wrong answer stops the run, saying which
    request, what was expected and what came back."""
    with http_client(endpoint, timeout_s) as client:
        for variant in variants:
            request = variant.request
            if endpoint.streams and not request.content:
                # Framed as the engine frames it: with no body, END_STREAM on its HEADERS.
                # httpx sends an empty DATA frame after a Content-Length: 0, and hypercorn
                # drops the connection when a response is done before that frame comes
                # (pgjones/hypercorn#329); the engine's requests never send one.
                request.headers.pop("content-length", None)
            try:
                response = client.send(request)
            except httpx.HTTPError as exc:
                tls = _ssl_error(exc)
                if tls is not None:
                    raise LoadgenError(handshake_problem(endpoint.authority, tls)) from None
                if endpoint.streams and isinstance(exc, httpx.RemoteProtocolError) and \
                        variant is variants[0]:  # the first answer: not HTTP/2 at all
                    raise LoadgenError(f"cannot connect to {endpoint.authority}: the server "
                                       f"did not answer in HTTP/2 ({exc})") from None
                raise LoadgenError(f"preflight: request {variant.name!r} ({request.method} "
                                   f"{request.url.raw_path.decode()}) failed: {exc}") from None
            problem = verify(variant.expect, response.status_code, response.content)
            if problem is not None:
                raise LoadgenError(f"preflight: request {variant.name!r} ({request.method} "
                                   f"{request.url.raw_path.decode()[:80]}): {problem}; "
                                   f"body: {response.content[:100]!r}")


def _ssl_error(error: BaseException) -> ssl.SSLError | None:
    """The TLS error that an httpx error (httpcore's, in turn) was raised from, if any."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, ssl.SSLError):
        seen = seen.__cause__ or seen.__context__
    return seen
