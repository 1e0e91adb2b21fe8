"""The `loadgen` command: arguments in, typed configuration to the library, text out.

Every user error ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from loadgen import cpus, servers
from loadgen.bench import run_bench
from loadgen.benchfile import load_bench
from loadgen.compare import compare, compare_runs, exit_code, markdown, with_deltas
from loadgen.errors import LoadgenError
from loadgen.profile import LoadProfile, parse_duration, parse_stages
from loadgen.report import build_report, latest_run
from loadgen.request import parse_url
from loadgen.runner import Placement
from loadgen.scenario import builtin_names, load_scenario
from loadgen.store import RunStore
from loadgen.summary import Progress, format_us, render
from loadgen.trial import run_served, run_workload
from loadgen.workload import ScenarioWorkload, UrlWorkload, Workload

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT; the results were written all the same


@click.group()
@click.version_option(package_name="loadgen")
def cli() -> None:
    """Load testing and latency profiling for Python ASGI stacks."""


def build_profile(connections: int, rate: float | None, stages: str | None, arrival: str,
                  duration: str | None, warmup: str, timeout: str, processes: int,
                  seed: int, timer_slack: str = "100us") -> LoadProfile:
    """The load profile from the command line's words."""
    common: dict[str, object] = dict(
        connections=connections, arrival=arrival, warmup_s=parse_duration(warmup),
        timeout_s=parse_duration(timeout), processes=processes, seed=seed,
        timer_slack_s=parse_duration(timer_slack),
    )
    if rate is not None and stages is not None:
        raise LoadgenError("--rate and --stages cannot be used together: "
                           "stages set their own rates")
    if stages is not None:
        if duration is not None:
            raise LoadgenError("--duration and --stages cannot be used together: "
                               "the stages' durations add up to the run's")
        return LoadProfile.staged(parse_stages(stages), **common)
    duration_s = parse_duration(duration or "10s")
    if rate is not None:
        return LoadProfile.constant(rate, duration_s, **common)
    return LoadProfile(duration_s=duration_s, **common)  # type: ignore[arg-type]


@cli.command()
@click.argument("url", required=False)
@click.option("-c", "--connections", type=int, default=64, show_default=True,
              help="Connections (open loop: the most in use at once).")
@click.option("--rate", type=float, help="Open loop at this many requests per second.")
@click.option("--stages", help="Open loop through stages 'duration:rate,...', ramping linearly.")
@click.option("--arrival", type=click.Choice(["constant", "poisson"]), default="constant",
              show_default=True, help="Spacing of open-loop requests.")
@click.option("-d", "--duration", help="Measured time, e.g. 10s, 500ms, 2m.  [default: 10s]")
@click.option("--warmup", default="1s", show_default=True, help="Unmeasured time first.")
@click.option("--timeout", default="5s", show_default=True, help="Per-request time-out.")
@click.option("-p", "--processes", type=int, default=1, show_default=True,
              help="Worker processes, each on its own core.")
@click.option("--cpus", "cpu_list", help="Cores for the generator, e.g. 1 or 2-3.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for Poisson arrivals.")
@click.option("--timer-slack", default="100us", show_default=True,
              help="Open loop: least time between wake-ups; requests may be this late so "
                   "that one wake-up sends several.")
@click.option("--target", help="Start this app from targets/ and load it (URL is then a path).")
@click.option("--server", default="uvicorn", show_default=True, help="Server for --target.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Server worker processes for --target.")
@click.option("--scenario", help="A built-in scenario (see `loadgen scenarios`) or a file.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A scenario parameter; repeat for several.")
@click.option("--check-every", type=int, default=100, show_default=True,
              help="Check every Nth response's body in full (0: never); statuses are "
                   "checked for every response.")
@click.option("--variants", type=int, default=16, show_default=True,
              help="Pre-encoded variants of each scenario request (random paths, bodies).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the result.")
@click.option("--hlog", "hlog_path", type=click.Path(path_type=Path),
              help="Write per-second histograms in the HdrHistogram log format.")
def run(url: str | None, connections: int, rate: float | None, stages: str | None,
        arrival: str, duration: str | None, warmup: str, timeout: str, processes: int,
        cpu_list: str | None, seed: int, timer_slack: str, target: str | None, server: str,
        workers: int, scenario: str | None, params: tuple[str, ...], check_every: int,
        variants: int, json_path: Path | None, hlog_path: Path | None) -> None:
    """Load URL (or a target loadgen starts) and report latency and throughput."""
    profile = build_profile(connections, rate, stages, arrival, duration, warmup, timeout,
                            processes, seed, timer_slack)
    server_cores, generator_cores = cpus.split(processes)
    if cpu_list is not None:
        generator_cores = cpus.parse(cpu_list)
        server_cores = tuple(c for c in cpus.available() if c not in generator_cores) \
            or generator_cores
    if check_every < 0 or variants < 1:
        raise LoadgenError("--check-every must be 0 or more and --variants at least 1")
    if target is None:
        if url is None:
            raise LoadgenError("give a URL to load, or --target to start one")
        endpoint, path = parse_url(url)
        workload = _workload(path, scenario, params, variants, seed)
        with _progress() as progress:
            result = run_workload(endpoint, workload, profile, Placement(generator_cores),
                                  progress, check_every=check_every)
    else:
        path = url or "/plaintext"
        if not path.startswith("/"):
            raise LoadgenError(f"with --target, give a path such as /plaintext, not {path!r}")
        workload = _workload(path, scenario, params, variants, seed)
        spec = servers.ServerSpec(
            server, servers.target_app(target), workers=_workers(workers), cpus=server_cores,
            log_path=(json_path.with_suffix(".server.log") if json_path
                      else Path("results") / f"{target}-{server}.server.log"),
        )
        with _progress() as progress:
            result = run_served(spec, target, workload, profile,
                                Placement(generator_cores, server_cores), progress, check_every)
    click.echo(render(result))
    if json_path is not None:
        result.write_json(json_path)
        click.echo(f"wrote {json_path}")
    if hlog_path is not None:
        result.write_hlog(hlog_path)
        click.echo(f"wrote {hlog_path}")
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """A live progress line on a terminal; nothing otherwise."""
    progress = Progress(sys.stdout) if sys.stdout.isatty() else None
    try:
        yield progress
    finally:
        if progress is not None:
            progress.close()


def _workload(path: str, scenario: str | None, params: tuple[str, ...], variants: int,
              seed: int) -> Workload:
    if scenario is None:
        if params:
            raise LoadgenError("--param goes with --scenario")
        return UrlWorkload(path)
    if path not in ("/", "/plaintext"):
        raise LoadgenError("give either a path or --scenario: the scenario names its paths")
    chosen = load_scenario(scenario)
    given = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep:
            raise LoadgenError(f"--param takes NAME=VALUE, not {param!r}")
        given[name] = value
    return ScenarioWorkload(chosen, chosen.resolve(given), variants, seed)


def _workers(workers: int) -> int:
    if workers < 1:
        raise LoadgenError("--workers must be at least 1")
    return workers


@cli.command()
@click.argument("target")
@click.option("--server", default="uvicorn", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True,
              help="The port to listen on; another free one if it is taken.")
@click.option("--workers", type=int, default=1, show_default=True)
def serve(target: str, server: str, port: int, workers: int) -> None:
    """Serve TARGET on 127.0.0.1 until Ctrl-C, pinned as `run --target` would pin it."""
    server_cores, _ = cpus.split()
    spec = servers.ServerSpec(server, servers.target_app(target), workers=_workers(workers),
                              cpus=server_cores, port=port)
    running = servers.running_server(spec)
    with running:
        if running.endpoint.port != port:
            click.echo(f"port {port} is taken; using {running.endpoint.port}")
        click.echo(f"{target} on {server} at http://{running.endpoint.authority}/ "
                   f"(cores {cpus.format_cores(server_cores)}); Ctrl-C stops it")
        try:
            signal.pause()
        except KeyboardInterrupt:
            click.echo("stopping")


@cli.command("servers")
def list_servers() -> None:
    """List the servers loadgen can start, and whether each is installed."""
    for name, launch in servers.LAUNCHERS.items():
        state = "installed" if servers.installed(launch.module) else "not installed"
        lifespan = "lifespan" if launch.lifespan else "no lifespan"
        click.echo(f"{name:<13} {state:<14} {lifespan}")


@cli.command("bench")
@click.argument("file", default="bench.toml", type=click.Path(path_type=Path))
@click.option("--results", "results_dir", default="results", show_default=True,
              type=click.Path(path_type=Path), help="The results store's root.")
def bench_command(file: Path, results_dir: Path) -> None:
    """Run the bench file's matrix in interleaved rounds, then compare with the baseline."""
    bench = load_bench(file)
    server_cores, generator_cores = cpus.split()
    store = RunStore.new(results_dir)
    cells = len(bench.cells())
    click.echo(f"bench {file}: {cells} cells x {bench.rounds} rounds, server on core(s) "
               f"{cpus.format_cores(server_cores)}, loadgen on "
               f"{cpus.format_cores(generator_cores)}; trials go to {store.path}")

    def progress(document: dict[str, Any], left_s: float) -> None:
        result = document.get("result")
        figures = (f"{result['throughput_rps']:,.0f} req/s, p99 "
                   f"{format_us(result['latency_us']['corrected']['p99'])}"
                   f"{'' if result['valid'] else ', INVALID'}"
                   f"{', GENERATOR-BOUND' if result['generator_bound'] else ''}" if result
                   else f"FAILED: {document.get('error', '')[:120]}")
        click.echo(f"[round {document['round'] + 1}/{bench.rounds}, "
                   f"{document['position'] + 1}/{cells}] {document['cell']['name']}: "
                   f"{figures} (about {left_s / 60:.1f} min left)")

    try:
        run_bench(bench, store, Placement(generator_cores, server_cores), progress)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished trials are in {store.path}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    comparisons, left_out = compare(store.trials(), bench.baseline)
    click.echo(markdown(comparisons, left_out))
    page = build_report(store.path)
    click.echo(f"results: {store.path}\nreport: {page}")


@cli.command("report")
@click.argument("run_dir", required=False,
                type=click.Path(path_type=Path, exists=True, file_okay=False))
def report_command(run_dir: Path | None) -> None:
    """Rebuild RUN_DIR's HTML report (default: the latest run) from its stored trials."""
    click.echo(build_report(run_dir or latest_run()))


@cli.command("compare")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("after", required=False,
                type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--baseline", help="TARGET/SERVER to compare against (default: the run's).")
@click.option("--delta", "deltas", multiple=True, metavar="METRIC=FRACTION",
              help="A metric's threshold, e.g. p99=0.2 (defaults: 0.05 for throughput and "
                   "cpu_per_request, 0.10 for latencies).")
def compare_command(run_dir: Path, after: Path | None, baseline: str | None,
                    deltas: tuple[str, ...]) -> None:
    """Compare a bench run's cells with its baseline, or (given AFTER) each cell of run AFTER
    with the same cell of RUN_DIR: ratio, 95% interval, verdict.

    Exit code 0: no regression; 1: a confirmed regression; 2: inconclusive; 3: nothing to
    compare."""
    trials = RunStore(run_dir).trials()
    if not trials:
        raise LoadgenError(f"no trials in {run_dir}")
    thresholds = {}
    for item in deltas:
        name, _, value = item.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            raise LoadgenError(f"--delta takes METRIC=FRACTION, not {item!r}") from None
    metrics = with_deltas(thresholds)
    if after is not None:
        comparisons, left_out = compare_runs(trials, RunStore(after).trials(), metrics)
        click.echo(markdown(comparisons, left_out))
        sys.exit(exit_code(comparisons))
    if baseline is not None:
        target, sep, server = baseline.partition("/")
        if not sep:
            raise LoadgenError("--baseline takes TARGET/SERVER, e.g. starlette/uvicorn")
        chosen = (target, server)
    else:
        chosen = tuple(trials[0]["baseline"])
    comparisons, left_out = compare(trials, chosen, metrics)
    click.echo(markdown(comparisons, left_out))
    sys.exit(exit_code(comparisons))


@cli.command("scenarios")
def list_scenarios() -> None:
    """List the built-in scenarios and their parameters."""
    for name in builtin_names():
        scenario = load_scenario(name)
        click.echo(f"{name}: {scenario.description}")
        for param, spec in scenario.params.items():
            sets = f" (sets the target's {spec.target_env})" if spec.target_env else ""
            click.echo(f"    {param}={spec.default}  {spec.help}{sets}")


@cli.command("targets")
def list_targets() -> None:
    """List the apps under test in targets/, and whether their framework is installed."""
    for name in servers.target_names():
        framework = {"raw": "python_multipart"}.get(name, name)
        state = "installed" if servers.installed(framework) else "not installed"
        click.echo(f"{name:<13} {state:<14} targets/{name}_app.py")


def main() -> None:
    """Console entry point: user errors become one line and exit code 2."""
    try:
        cli.main(standalone_mode=False, prog_name="loadgen")
    except LoadgenError as exc:
        click.echo(f"loadgen: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        click.echo(f"loadgen: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"loadgen: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("loadgen: aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
