"""loadgen: load testing and latency profiling for Python ASGI stacks."""

from loadgen.errors import LoadgenError
from loadgen.measure.runner import run_load
from loadgen.results.run import RunResult
from loadgen.workloads.profile import LoadProfile, Stage
from loadgen.workloads.request import Endpoint, RequestTemplate

__all__ = [
    "Endpoint",
    "LoadProfile",
    "LoadgenError",
    "RequestTemplate",
    "RunResult",
    "Stage",
    "run_load",
]
