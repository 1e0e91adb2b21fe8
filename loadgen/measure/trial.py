"""One trial: start a server, sample it, check the workload, load it, stop it; the result
carries the server's figures beside the generator's. Or a paired trial: two servers at once,
loaded in turns.

Why pairs: on this virtual machine the host's other tenants slow the same code by 5-10% from
one minute to the next, so two trials of identical servers a few seconds apart differed in CPU
per request by ±5.3% a round and in p50 by ±6.8% (benchmarks/noise.py). Two identical servers
loaded at the same time differed in CPU per request by ±1.6%: what the host does, it does to
both. Loaded at once, though, they queue behind each other on their shared core and spoil each
other's latency (p50 ±7.5%). Loaded in turns of TURN_S, the idle one waits while the other has
the core to itself, and both still see the host's moods: ±2.2% and p50 ±1.6% a round with
turns of 0.1 s, ±3.2% and ±4.3% with turns of 0.5 s.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace

from loadgen.engine.plan import IntervalSink, Load
from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement, StartSink, run_load, run_together
from loadgen.results.run import RunResult, ServerFigures
from loadgen.servers.launchers import ServerSpec, running_server
from loadgen.servers.pyspy import Recording, SamplingPlan
from loadgen.servers.usage import UsageSampler
from loadgen.workloads.profile import LoadProfile
from loadgen.workloads.request import Endpoint
from loadgen.workloads.workload import Workload, preflight


def run_workload(endpoint: Endpoint, workload: Workload, profile: LoadProfile,
                 placement: Placement, on_interval: IntervalSink | None = None,
                 label: str = "", check_every: int = 100,
                 on_start: StartSink | None = None) -> RunResult:
    """Prepare the workload for `endpoint`, pass its preflight, and load it."""
    prepared = workload.prepare(endpoint)
    if prepared.flow is not None and profile.open_loop:
        raise LoadgenError("a scenario with a flow runs closed loop: drop --rate and --stages")
    preflight(prepared.variants, endpoint, profile.timeout_s)
    prepared.variants.clear()  # httpx's requests: a few KB each, 10,000 kinds' worth
    return run_load(endpoint, prepared.templates, profile, placement, on_interval,
                    label or f"{endpoint.where} {workload.label}", prepared.mix,
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
            label = f"{target} on {spec.server} {endpoint.where} {workload.label}"
            result = run_workload(endpoint, workload, profile, placement, on_interval, label,
                                  check_every, in_window)
        finally:
            samples = sampler.stop()
            py_spy = None if recording is None else recording.stop()
    result.server = ServerFigures(spec.server, spec.workers, samples)
    result.py_spy = py_spy
    return result


TURN_S = 0.1


def run_paired(specs: tuple[ServerSpec, ServerSpec], targets: tuple[str, str],
               workload: Workload, profile: LoadProfile, placement: Placement,
               first: int = 0) -> tuple[RunResult, RunResult]:
    """Both servers at once on the server's cores, loaded in turns of TURN_S, `profile` in
    each one's turns (over twice its time, so each gets all of it); server `first` has the
    first turn. Their results, in the order of `specs`."""
    with ExitStack() as stack:
        servers = [running_server(replace(spec, env=(*spec.env, *workload.target_env)))
                   for spec in specs]
        for server in servers:  # both start at once, and get ready together
            stack.callback(server.stop)
            server.launch()
        samplers = []
        for server in servers:
            server.wait_ready()
            assert server.process is not None
            samplers.append(UsageSampler(server.process.pid))
        loads = []
        for k, (server, spec, target) in enumerate(zip(servers, specs, targets, strict=True)):
            prepared = workload.prepare(server.endpoint)
            if prepared.flow is not None:
                raise LoadgenError("a scenario with a flow runs closed loop and cannot be "
                                   "loaded in turns")
            preflight(prepared.variants, server.endpoint, profile.timeout_s)
            label = f"{target} on {spec.server} {server.endpoint.where} {workload.label}"
            loads.append(Load(server.endpoint, prepared.templates,
                            profile.in_turns(TURN_S, (k + first) % 2, 2), label,
                            prepared.mix))

        def in_window(start: float) -> None:
            window = start + loads[0].profile.warmup_s
            for sampler in samplers:
                sampler.also_at(window, window + loads[0].profile.duration_s)

        for sampler in samplers:
            sampler.start()
        try:
            results = run_together(loads, placement, in_window)
        finally:
            samples = [sampler.stop() for sampler in samplers]
    for result, spec, taken in zip(results, specs, samples, strict=True):
        result.server = ServerFigures(spec.server, spec.workers, taken)
    return results[0], results[1]
