"""One trial: start a server, sample it, load it, stop it; the result carries the server's
figures beside the generator's."""

from __future__ import annotations

from loadgen.engine import IntervalSink
from loadgen.profile import LoadProfile
from loadgen.request import get_template
from loadgen.result import RunResult, ServerFigures
from loadgen.runner import Placement, run_load
from loadgen.servers import ServerSpec, running_server
from loadgen.usage import UsageSampler


def run_served(spec: ServerSpec, target: str, path: str, profile: LoadProfile,
               placement: Placement, on_interval: IntervalSink | None = None) -> RunResult:
    """Load `path` of the app in `spec`, served by a server this function starts and stops."""
    with running_server(spec) as server:
        assert server.process is not None
        sampler = UsageSampler(server.process.pid)
        sampler.start()
        try:
            endpoint = server.endpoint
            label = f"{target} on {spec.server} http://{endpoint.authority}{path}"
            result = run_load(endpoint, (get_template(endpoint, path),), profile, placement,
                              on_interval, label)
        finally:
            samples = sampler.stop()
    result.server = ServerFigures(spec.server, spec.workers, samples)
    return result
