"""One trial: start a server, sample it, check the workload, load it, stop it; the result
carries the server's figures beside the generator's."""

from __future__ import annotations

from dataclasses import replace

from loadgen.engine import IntervalSink
from loadgen.errors import LoadgenError
from loadgen.profile import LoadProfile
from loadgen.pyspy import Recording, SamplingPlan
from loadgen.request import Endpoint
from loadgen.result import RunResult, ServerFigures
from loadgen.runner import Placement, StartSink, run_load
from loadgen.servers import ServerSpec, running_server
from loadgen.usage import UsageSampler
from loadgen.workload import Workload, preflight


def run_workload(endpoint: Endpoint, workload: Workload, profile: LoadProfile,
                 placement: Placement, on_interval: IntervalSink | None = None,
                 label: str = "", check_every: int = 100,
                 on_start: StartSink | None = None) -> RunResult:
    """Prepare the workload for `endpoint`, pass its preflight, and load it."""
    prepared = workload.prepare(endpoint)
    if prepared.flow is not None and profile.open_loop:
        raise LoadgenError("a scenario with a flow runs closed loop: drop --rate and --stages")
    preflight(prepared.variants, profile.timeout_s)
    return run_load(endpoint, prepared.templates, profile, placement, on_interval,
                    label or f"http://{endpoint.authority} {workload.label}", prepared.mix,
                    check_every, prepared.flow, on_start)


def run_served(spec: ServerSpec, target: str, workload: Workload, profile: LoadProfile,
               placement: Placement, on_interval: IntervalSink | None = None,
               check_every: int = 100, sampling: SamplingPlan | None = None) -> RunResult:
    """Load the app in `spec`, served by a server this function starts and stops. The
    workload's sizes reach the server's environment; its requests pass a preflight first.
    With `sampling`, py-spy samples the server's processes in the measured window only, on
    the server's cores."""
    spec = replace(spec, env=(*spec.env, *workload.target_env))
    with running_server(spec) as server:
        endpoint = server.endpoint
        assert server.process is not None
        sampler = UsageSampler(server.process.pid)
        recording = None if sampling is None else Recording(server.process.pid, sampling,
                                                            spec.cpus)

        def in_window(start: float) -> None:
            window = start + profile.warmup_s
            sampler.also_at(window, window + profile.duration_s)
            if recording is not None:
                recording.between(window, window + profile.duration_s)

        sampler.start()
        try:
            label = f"{target} on {spec.server} http://{endpoint.authority} {workload.label}"
            result = run_workload(endpoint, workload, profile, placement, on_interval, label,
                                  check_every, in_window)
        finally:
            samples = sampler.stop()
            py_spy = None if recording is None else recording.stop()
    result.server = ServerFigures(spec.server, spec.workers, samples)
    result.py_spy = py_spy
    return result
