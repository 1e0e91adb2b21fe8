"""Scenarios: what to send, how often, and what a correct answer looks like.

A scenario is a Python file (in scenarios/, or anywhere by path) that defines

    DESCRIPTION = "one line"
    PARAMS = {"routes": Param(100, "static routes in the target", target_env="ROUTES")}
    def requests(params: dict) -> list[Request]: ...
    async def flow(session) -> None: ...   # optional: a multi-step user, closed loop

Without `flow`, the engine sends the requests in proportion to their weights. With it, each
connection runs the flow again and again: `await session.send("name")` sends that request and
returns its answer (status, body), so a flow can log in, list, then upload.

Paths and bodies may be callables of a seeded `random.Random`, drawn once per pre-encoded
variant. Parameters with a `target_env` also reach the target's environment, so that the
scenario and the app agree on the number of routes, the mount depth or the hosts.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import loadgen_scenarios
from loadgen.errors import LoadgenError

# The built-in scenarios: scenarios/ of the project, installed as the package loadgen_scenarios
# (pyproject.toml maps it). Its first folder: an editable install also lists a placeholder.
SCENARIOS_DIR = next(Path(p) for p in loadgen_scenarios.__path__ if Path(p).is_dir())


@dataclass(frozen=True)
class Param:
    """A scenario parameter: its default (which sets its type) and what it means."""

    default: int | float | str
    help: str
    target_env: str | None = None  # the target's environment variable it also sets


@dataclass(frozen=True)
class File:
    """A file part: `size` bytes of `pattern` (random, zeros, text, crlf, crlf-dash)."""

    name: str
    size: int
    pattern: str = "random"
    filename: str = "upload.bin"
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Multipart:
    """A multipart/form-data body: fields first, then files, in order; optionally bytes
    before the first boundary and after the last, which parsers must skip."""

    fields: tuple[tuple[str, str], ...] = ()
    files: tuple[File, ...] = ()
    preamble: bytes = b""
    epilogue: bytes = b""


@dataclass(frozen=True)
class Form:
    """An application/x-www-form-urlencoded body."""

    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Json:
    value: Any


Body = Multipart | Form | Json


@dataclass(frozen=True)
class Check:
    """What a correct response is: one of `status`, and for a 2xx answer a body that contains
    `contains` and JSON whose fields equal `json`. `digest` means the JSON must equal the digest
    of the form body that was sent (the targets' /upload and /urlencoded contract)."""

    status: tuple[int, ...] = (200,)
    contains: bytes | None = None
    json: Mapping[str, Any] | None = None
    digest: bool = False


@dataclass(frozen=True)
class Request:
    """One kind of request in a scenario's mix; `name` is its kind in the results."""

    name: str
    path: str | Callable[[random.Random], str]
    method: str = "GET"
    weight: float = 1.0
    headers: tuple[tuple[str, str], ...] = ()
    body: Body | Callable[[random.Random], Body] | None = None
    check: Check = field(default_factory=Check)
    variants: int | None = None  # pre-encoded variants of this request; None: the run's setting


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    params: Mapping[str, Param]
    build: Callable[[dict[str, Any]], list[Request]]
    path: Path
    flow: Callable[[Any], Awaitable[None]] | None = None

    def resolve(self, given: Mapping[str, str]) -> dict[str, Any]:
        """Parameter values: the defaults, overridden by `given` (strings, from --param)."""
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise LoadgenError(f"unknown parameter {unknown[0]!r} for scenario {self.name}; "
                               f"known: {known}")
        values: dict[str, Any] = {name: p.default for name, p in self.params.items()}
        for name, text in given.items():
            kind = type(self.params[name].default)
            try:
                values[name] = kind(text)
            except ValueError:
                raise LoadgenError(f"parameter {name} of scenario {self.name} takes "
                                   f"{kind.__name__} values, not {text!r}") from None
        return values

    def requests(self, values: dict[str, Any]) -> list[Request]:
        """The scenario's requests for these values, each mistake of the scenario's own one
        line naming its file and request."""
        where = f"scenario {self.name} ({self.path})"
        try:
            built = self.build(values)
        except Exception as exc:  # the scenario's own code: any exception is its mistake
            raise LoadgenError(f"{where}: requests() raised {type(exc).__name__}: {exc}") from None
        if not isinstance(built, list) or not all(isinstance(r, Request) for r in built):
            raise LoadgenError(f"{where}: requests() must return a list of Request, not "
                               f"{type(built).__name__}")
        names = [r.name for r in built]
        if not built or len(set(names)) != len(names):
            raise LoadgenError(f"{where}: requests() must give requests with distinct names")
        for request in built:
            weight = request.weight
            if isinstance(weight, bool) or not isinstance(weight, int | float) \
                    or not 0 <= weight < math.inf:  # NaN fails too
                raise LoadgenError(f"{where}: request {request.name!r} has weight {weight!r}; "
                                   "a weight is a finite number, 0 or more")
            if isinstance(request.path, str) and not request.path.startswith("/"):
                raise LoadgenError(f"{where}: request {request.name!r} has path "
                                   f"{request.path!r}; a path starts with /")
        if not sum(r.weight for r in built):
            raise LoadgenError(f"{where}: the requests' weights add up to 0")
        return built

    def target_env(self, values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """The target's environment that the parameters set."""
        return tuple((p.target_env, str(values[name])) for name, p in self.params.items()
                     if p.target_env)


def builtin_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if path.suffix != ".py":
        if name_or_path not in builtin_names():
            raise LoadgenError(f"unknown scenario {name_or_path!r}; built in: "
                               f"{', '.join(builtin_names())}, or give a file path")
        path = SCENARIOS_DIR / f"{name_or_path}.py"
    if not path.is_file():
        raise LoadgenError(f"no scenario file {path}")
    module = _import(path)
    build = getattr(module, "requests", None)
    params = getattr(module, "PARAMS", {})
    if not callable(build):
        raise LoadgenError(f"scenario file {path} defines no requests(params) function")
    if not isinstance(params, dict) or not all(isinstance(p, Param) for p in params.values()):
        raise LoadgenError(f"scenario file {path}: PARAMS must map names to Param(...)")
    flow = getattr(module, "flow", None)
    if flow is not None and not inspect.iscoroutinefunction(flow):
        raise LoadgenError(f"scenario file {path}: flow must be an async function")
    return Scenario(path.stem, str(getattr(module, "DESCRIPTION", "")), params, build,
                    path.resolve(), flow)


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"loadgen_scenario_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise LoadgenError(f"scenario file {path}: syntax error at line {exc.lineno}: "
                           f"{exc.msg}") from None
    except Exception as exc:  # the user's code: whatever it raises is reported in one line
        raise LoadgenError(f"scenario file {path} failed to load: "
                           f"{type(exc).__name__}: {exc}") from None
    return module
