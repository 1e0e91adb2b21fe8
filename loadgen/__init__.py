"""loadgen: load testing and latency profiling for Python ASGI stacks."""

from loadgen.errors import LoadgenError
from loadgen.profile import LoadProfile, Stage
from loadgen.request import Endpoint, RequestTemplate
from loadgen.result import RunResult
from loadgen.runner import run_load

__all__ = [
    "Endpoint",
    "LoadProfile",
    "LoadgenError",
    "RequestTemplate",
    "RunResult",
    "Stage",
    "run_load",
]
