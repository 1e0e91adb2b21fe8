"""What a run sends: a single URL, or a scenario's mix, made concrete for one endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from loadgen.errors import LoadgenError
from loadgen.workloads.checks import verify
from loadgen.workloads.request import Endpoint, RequestTemplate, get_template
from loadgen.workloads.scenario import Scenario
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


def preflight(variants: list[Variant], timeout_s: float) -> None:
    """Send every variant once with httpx; the first wrong answer stops the run, saying which
    request, what was expected and what came back."""
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for variant in variants:
            request = variant.request
            try:
                response = client.send(request)
            except httpx.HTTPError as exc:
                raise LoadgenError(f"preflight: request {variant.name!r} ({request.method} "
                                   f"{request.url.raw_path.decode()}) failed: {exc}") from None
            problem = verify(variant.expect, response.status_code, response.content)
            if problem is not None:
                raise LoadgenError(f"preflight: request {variant.name!r} ({request.method} "
                                   f"{request.url.raw_path.decode()[:80]}): {problem}; "
                                   f"body: {response.content[:100]!r}")
