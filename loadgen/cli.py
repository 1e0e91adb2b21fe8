"""The `loadgen` command: arguments in, typed configuration to the library, text out.

Every user error ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import itertools
import json
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from loadgen import cpus, inproc, pyspy, servers
from loadgen.bench import rounds_runner, run_budgeted, trials_of
from loadgen.benchfile import Cell, ScenarioEntry, ServerEntry, labelled, load_bench, with_budget
from loadgen.compare import (
    compare,
    compare_runs,
    exit_code,
    level_text,
    look_level,
    markdown,
    metric,
    noise_text,
    verdict_text,
    with_deltas,
)
from loadgen.envs import environment
from loadgen.errors import LoadgenError
from loadgen.output import check_file, check_folder, save
from loadgen.profile import LoadProfile, parse_duration, parse_stages
from loadgen.request import parse_url
from loadgen.runner import Placement
from loadgen.scenario import builtin_names, load_scenario
from loadgen.store import RunStore
from loadgen.summary import Progress, render, trial_figures
from loadgen.trial import TURN_S, run_served, run_workload
from loadgen.workload import ScenarioWorkload, UrlWorkload, Workload

if TYPE_CHECKING:
    from loadgen.bisect import Step
    from loadgen.history import HistoryPlan
    from loadgen.points import Point

# History, bisect, nightly and the reports are imported by the commands that use them: they bring
# scipy and matplotlib, over two seconds of start-up that `loadgen run` has no use for.

EXIT_FAILED = 1  # the run's own figures failed: nothing succeeded, or too much failed
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
@click.option("--cluster", metavar="tcp://HOST:8786",
              help="Run the --processes generator processes on this Dask scheduler's workers "
                   "(pip install 'loadgen[cluster]').")
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
@click.option("--max-failed", "max_failed", metavar="SHARE",
              help="Exit 1 when more than this share of requests failed (errors or unexpected "
                   "statuses), e.g. 1% or 0.01, as k6's thresholds do. With none succeeded it "
                   "exits 1 whatever this is.")
@click.option("--hlog", "hlog_path", type=click.Path(path_type=Path),
              help="Write per-second histograms in the HdrHistogram log format.")
@click.option("--profile", "profiled", is_flag=True,
              help="With --target: py-spy samples the server (every worker) in the measured "
                   "window, on the server's cores, into NAME.flame.svg and "
                   "NAME.speedscope.json beside --json and named after it, else in results/ "
                   "as TARGET-SERVER.*. It perturbs the figures; the result says so.")
def run(url: str | None, connections: int, rate: float | None, stages: str | None,
        arrival: str, duration: str | None, warmup: str, timeout: str, processes: int,
        cpu_list: str | None, cluster: str | None, seed: int, timer_slack: str,
        target: str | None, server: str, workers: int, scenario: str | None,
        params: tuple[str, ...], check_every: int, variants: int, max_failed: str | None,
        json_path: Path | None, hlog_path: Path | None, profiled: bool) -> None:
    """Load URL (or a target loadgen starts) and report latency and throughput.

    Exit code 0: done; 1: no request succeeded, or more failed than --max-failed; 2: bad
    input, or a result that could not be written where asked; 130: interrupted."""
    failed_limit = _share(max_failed, "--max-failed") if max_failed is not None else None
    for option, out in (("--json", json_path), ("--hlog", hlog_path)):
        if out is not None:
            check_file(out, option)
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
        if profiled:
            raise LoadgenError("--profile samples a server loadgen starts: give --target")
        endpoint, path = parse_url(url)
        workload = _workload(path, scenario, params, variants, seed)
        with _progress() as progress:
            result = run_workload(endpoint, workload, profile,
                                  Placement(generator_cores, cluster=cluster),
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
        executable = _pyspy() if profiled else None
        folder, name = ((json_path.parent, json_path.stem) if json_path
                        else (Path("results"), f"{target}-{server}"))
        sampling = pyspy.SamplingPlan(folder, name, executable) if executable else None
        with _progress() as progress:
            result = run_served(spec, target, workload, profile,
                                Placement(generator_cores, server_cores, cluster), progress,
                                check_every, sampling)
    click.echo(render(result))
    _save_all({"--json": (json_path, result.json_text),
               "--hlog": (hlog_path, result.hlog_text)})
    if result.py_spy is not None and result.py_spy.problem is not None:
        click.echo(f"loadgen: no profile: {result.py_spy.problem}", err=True)
    elif result.py_spy is not None:
        click.echo(f"wrote {result.py_spy.flamegraph} and {result.py_spy.speedscope} "
                   f"({result.py_spy.samples:,} samples)")
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if not result.succeeded:
        click.echo("loadgen: error: no request succeeded", err=True)
        sys.exit(EXIT_FAILED)
    if failed_limit is not None and result.failed_share > failed_limit:
        click.echo(f"loadgen: error: {result.failed_share:.2%} of requests failed, more than "
                   f"--max-failed {failed_limit:.2%}", err=True)
        sys.exit(EXIT_FAILED)


def _share(text: str, option: str) -> float:
    """A share from '1%' or '0.01', in [0, 1]."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise LoadgenError(f"{option} takes a share such as 1% or 0.01, not {text!r}")
    return value


def _save_all(outputs: dict[str, tuple[Path | None, Callable[[], str]]]) -> None:
    """Write each asked-for output; one that fails is rescued (output.save) and, once every
    other is written, the failure is the run's error."""
    failures = []
    for option, (path, text) in outputs.items():
        if path is None:
            continue
        try:
            click.echo(f"wrote {save(path, text(), option)}")
        except LoadgenError as exc:
            failures.append(str(exc))
    if failures:
        raise LoadgenError("; ".join(failures))


def _pyspy() -> str | None:
    """py-spy, where it can sample; None, said in one line, where not (the run goes on)."""
    executable = pyspy.find_pyspy()
    problem = pyspy.unavailable(executable)
    if problem is not None:
        click.echo(f"loadgen: no profile: {problem}", err=True)
        return None
    return executable


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


@cli.command("inproc")
@click.option("--target", required=True, help="The app NAME_app.py (in targets/ or --app-dir).")
@click.option("--app-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Where NAME_app.py lives, if not in targets/.")
@click.option("--with", "packages", multiple=True, metavar="REQUIREMENT",
              help="Build the target's environment with these (e.g. starlette==0.30.0); "
                   "default: loadgen's own.")
@click.option("--scenario", required=True, help="A built-in scenario or a file.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE")
@click.option("--kind", "kinds", multiple=True,
              help="Only this request kind of the scenario (again for more).")
@click.option("--instructions", is_flag=True,
              help="Count CPU instructions per request under callgrind, instead of timing.")
@click.option("--counts", default="200,700", show_default=True,
              help="With --instructions: the two numbers of calls whose difference is taken.")
@click.option("--repeats", type=int, default=10, show_default=True,
              help="Timed samples per request kind.")
@click.option("--variants", type=int, default=16, show_default=True,
              help="Pre-encoded variants of each scenario request.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the result.")
@click.option("--profile", "profile_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Sample the timed driver with py-spy; write inproc.flame.svg and "
                   "inproc.speedscope.json into this folder.")
def inproc_command(target: str, app_dir: Path | None, packages: tuple[str, ...], scenario: str,
                   params: tuple[str, ...], kinds: tuple[str, ...], instructions: bool,
                   counts: str, repeats: int, variants: int, json_path: Path | None,
                   profile_dir: Path | None) -> None:
    """The framework's own cost per request kind: the scenario's requests called straight into
    the target's ASGI app, no server and no sockets."""
    if json_path is not None:
        check_file(json_path, "--json")
    if profile_dir is not None:
        check_folder(profile_dir, "--profile")
    try:
        low, high = (int(c) for c in counts.split(","))
    except ValueError:
        raise LoadgenError(f"--counts takes two numbers, e.g. 200,700, not {counts!r}") from None
    directory = (app_dir or servers.TARGETS_DIR).resolve()
    python = environment(packages, "inproc") if packages else sys.executable
    workload = _workload("/", scenario, params, variants, 0)
    assert isinstance(workload, ScenarioWorkload)
    server_cores, _ = cpus.split()
    plan = inproc.plan_for(target, directory, python, workload, instructions=instructions,
                           counts=(low, high), repeats=repeats, cores=server_cores,
                           kinds=kinds, profile_dir=profile_dir)
    click.echo(f"{workload.label} in process on {target} ({python}); "
               + ("callgrind on every core, PYTHONHASHSEED=0" if instructions
                  else f"driver on core(s) {cpus.format_cores(server_cores)}"))
    result = inproc.run_inproc(plan)
    click.echo(inproc.render(result))
    if result.py_spy is not None:
        if result.py_spy.problem:
            click.echo(f"loadgen: no profile: {result.py_spy.problem}", err=True)
        else:
            click.echo(f"profile: {result.py_spy.flamegraph} and {result.py_spy.speedscope} "
                       f"({result.py_spy.samples} samples)")
    _save_all({"--json": (json_path, lambda: json.dumps(result.to_json(), indent=1) + "\n")})


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
@click.option("--profile", "profiled", is_flag=True,
              help="py-spy samples every trial's server in its measured window: "
                   "TRIAL.flame.svg and TRIAL.speedscope.json in the run folder, linked from "
                   "the report. It perturbs the figures; each trial says so.")
@click.option("--budget", help="The whole bench's time (e.g. 15m), instead of the file's "
                               "`budget`: rounds for inconclusive cells while it lasts; 0 for "
                               "the planned rounds only.")
def bench_command(file: Path, results_dir: Path, profiled: bool, budget: str | None) -> None:
    """Run the bench file's matrix in interleaved rounds, then compare with the baseline."""
    from loadgen.report import build_report
    bench = load_bench(file)
    if budget is not None:
        bench = with_budget(bench, parse_duration(budget))
    check_folder(results_dir, "--results")
    server_cores, generator_cores = cpus.split()
    store = RunStore.new(results_dir)
    profiled = profiled and _pyspy() is not None
    told: set[str] = set()  # each reason a trial has no profile, said once
    cells = len(bench.cells())
    per_round = trials_of(bench, bench.cells(), profiled)
    pairs = sum(beside is not None for _, beside in per_round)
    more = (f", then rounds for undecided cells within {bench.budget_s / 60:.1f} min in all"
            f" (each look at {level_text(look_level(bench.looks))})"
            if bench.budget_s else "")
    paired = (f"; {pairs} of the {len(per_round)} trials of a round pair a cell with its "
              f"baseline, loaded in turns of {TURN_S:g} s" if pairs else "")
    click.echo(f"bench {file}: {cells} cells x {bench.rounds} rounds{more}{paired}; server on "
               f"core(s) "
               f"{cpus.format_cores(server_cores)}, loadgen on "
               f"{cpus.format_cores(generator_cores)}; trials go to {store.path}")

    def progress(document: dict[str, Any], left_s: float) -> None:
        result = document.get("result")
        figures = (trial_figures(result) if result
                   else f"FAILED: {document.get('error', '')[:120]}")
        number = document["round"] + 1
        where = (f"round {number}/{bench.rounds}, {document['position'] + 1}/{len(per_round)}"
                 if number <= bench.rounds else f"added round {number}")
        name = document["cell"]["name"]
        beside = f" beside {document['pair']}" if document.get("pair", name) != name else ""
        click.echo(f"[{where}] {name}{beside}: {figures} "
                   f"(about {left_s / 60:.1f} min left)")
        problem = ((result or {}).get("py_spy") or {}).get("problem")
        if problem and problem not in told:
            told.add(problem)
            click.echo(f"loadgen: no profile: {problem}", err=True)

    def added(index: int, chosen: Sequence[Cell]) -> None:
        click.echo(f"adding round {index + 1} for {len(chosen)} cells still inconclusive, with "
                   f"their baselines: {', '.join(c.name for c in chosen)}")

    try:
        outcome = run_budgeted(bench, store, rounds_runner(
            store, Placement(generator_cores, server_cores), progress, profiled), added)
    except KeyboardInterrupt:  # between trials
        outcome = None
    if outcome is None or outcome.stop == "interrupted":  # or in one: it ended early, kept
        click.echo(f"interrupted: the finished trials are in {store.path} (`loadgen report "
                   f"{store.path}` builds their report)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    comparisons, left_out = compare(store.trials(), bench.baseline)
    click.echo(markdown(comparisons, left_out))
    click.echo(outcome.text)
    page = build_report(store.path)
    click.echo(f"results: {store.path}\nreport: {page}")


@cli.command("report")
@click.argument("run_dir", required=False,
                type=click.Path(path_type=Path, exists=True, file_okay=False))
def report_command(run_dir: Path | None) -> None:
    """Rebuild RUN_DIR's HTML report (default: the latest run) from its stored trials."""
    from loadgen.report import build_report, latest_run
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
    thresholds = {}
    for item in deltas:
        name, _, value = item.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            raise LoadgenError(f"--delta takes METRIC=FRACTION, not {item!r}") from None
    metrics = with_deltas(thresholds)
    trials = _readable(run_dir)
    if after is not None:
        comparisons, left_out = compare_runs(trials, _readable(after), metrics)
        click.echo(markdown(comparisons, left_out))
        sys.exit(exit_code(comparisons))
    if baseline is not None:
        target, sep, server = baseline.partition("/")
        if not sep:
            raise LoadgenError("--baseline takes TARGET/SERVER, e.g. starlette/uvicorn")
        chosen = (target, server)
        present = sorted({f"{t['cell']['target']}/{t['cell']['server']}" for t in trials})
        if baseline not in present:
            raise LoadgenError(f"--baseline {baseline}: no such target/server in {run_dir}; "
                               f"it has {', '.join(present)}")
    else:
        chosen = tuple(trials[0]["baseline"])
    comparisons, left_out = compare(trials, chosen, metrics)
    click.echo(markdown(comparisons, left_out))
    sys.exit(exit_code(comparisons))


def _readable(run_dir: Path) -> list[dict[str, Any]]:
    """The run's trials; each file that cannot be read is said on stderr and left out."""
    trials, problems = RunStore(run_dir).readable_trials()
    for problem in problems:
        click.echo(f"loadgen: {problem}; compared without it", err=True)
    if not trials:
        raise LoadgenError(f"no readable trials in {run_dir}")
    return trials


def _subject_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options history and bisect share: what serves the subject, and the load."""
    options = [
        click.option("--target", help="The target app NAME_app.py that uses the subject "
                                      "(default: the subject's name)."),
        click.option("--app-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
                     help="Where NAME_app.py lives (default: targets/)."),
        click.option("--with", "packages", multiple=True, metavar="REQUIREMENT",
                     help="Another package of the target's environment; repeat for several."),
        click.option("--server", default="uvicorn", show_default=True),
        click.option("--workers", type=int, default=1, show_default=True),
        click.option("--scenario", "scenario_names", multiple=True, required=True,
                     help="A built-in scenario or a file; repeat for several."),
        click.option("--param", "params", multiple=True, metavar="NAME=VALUE[,VALUE...]",
                     help="A scenario parameter; several values measure each."),
        # 2,000 req/s for 5 s: at 1,000 req/s for 3 s the server's wake-ups weigh more per
        # request, and CPU per request spread ±13% a round between identical builds here;
        # at 2,000 for 5 s ±5.5% (benchmarks/noise.py).
        click.option("--rate", type=float, default=2000, show_default=True,
                     help="Open loop at this many requests per second (0: closed loop)."),
        click.option("-c", "--connections", type=int, default=16, show_default=True),
        click.option("-d", "--duration", default="5s", show_default=True),
        click.option("--warmup", default="1s", show_default=True),
        click.option("--rounds", type=int, default=3, show_default=True,
                     help="Trials of each point (history) or first rounds of each A/B."),
        click.option("--results", "results_dir", default="results", show_default=True,
                     type=click.Path(path_type=Path), help="The results store's root."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _plan(subject: str, found: list[Point], target: str | None, app_dir: Path | None,
          packages: tuple[str, ...], server: str, workers: int, scenario_names: tuple[str, ...],
          params: tuple[str, ...], rate: float, connections: int, duration: str, warmup: str,
          rounds: int) -> HistoryPlan:
    """A history plan from the shared options; --param values given as a list are swept."""
    from loadgen.history import HistoryPlan
    from loadgen.points import subject_name
    swept: dict[str, list[str]] = {}
    for param in params:
        name, sep, values = param.partition("=")
        if not sep or not values:
            raise LoadgenError(f"--param takes NAME=VALUE[,VALUE...], not {param!r}")
        swept[name] = values.split(",")
    entries = []
    for name in scenario_names:
        declared = load_scenario(name).params
        unknown = sorted(set(swept) - set(declared))
        if unknown and len(scenario_names) == 1:
            raise LoadgenError(f"scenario {name} has no parameter {unknown[0]!r}")
        mine = [[(k, v) for v in values] for k, values in swept.items() if k in declared]
        entries += [ScenarioEntry(name, tuple(combo)) for combo in itertools.product(*mine)]
    app = target or subject_name(subject)
    servers.target_app(app, app_dir or servers.TARGETS_DIR)  # an unknown target fails now
    load: dict[str, Any] = {"connections": connections, "duration": duration, "warmup": warmup}
    if rate:
        load["rate"] = rate
    return HistoryPlan(subject, tuple(found), ServerEntry(server, _workers(workers)),
                       labelled(entries, always=True), load, app,
                       app_dir or servers.TARGETS_DIR, packages, rounds)


def _trial_line(document: dict[str, Any], left_s: float) -> None:
    result = document.get("result")
    figures = (trial_figures(result) if result
               else f"FAILED: {document.get('error', '')[:200]}")
    cell = document["cell"]
    click.echo(f"  round {document['round'] + 1} {cell['target'][:12]} {cell['scenario']}: "
               f"{figures}")


@cli.command("history")
@click.argument("subject")
@click.option("--revs", "series_text", metavar="SERIES",
              help="For a repository: A..B (from A to B), a,b,c, tags or tags:PATTERN.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Every Nth commit or version of the series (its ends always).")
@click.option("--min-change", type=float, default=0.05, show_default=True,
              help="The smallest step reported as a change point.")
@click.option("--confirm", is_flag=True,
              help="Run an interleaved A/B across each change point and keep the verdict.")
@_subject_options
def history_command(subject: str, series_text: str | None, every: int, min_change: float,
                    confirm: bool, results_dir: Path, **options: Any) -> None:
    """Measure SUBJECT at every point of a series and find the change points.

    SUBJECT is a git repository (a path or URL) with --revs, or a package's released
    versions: starlette==0.30.0..1.10.0 (every release from one to the other) or
    starlette==0.30.0,0.37.2. Points measured before (same server, scenario and load) are
    not measured again."""
    from loadgen import history
    from loadgen.points import points
    from loadgen.report import build_history_report
    found = points(subject, series_text, every)
    plan = _plan(subject, found, **options)
    check_folder(results_dir, "--results")
    home = history.folder(subject, results_dir)
    server_cores, generator_cores = cpus.split()
    placement = Placement(generator_cores, server_cores)
    click.echo(f"history of {subject}: {len(found)} points x {len(plan.scenarios)} "
               f"scenario(s) on {plan.server.name}, {plan.rounds} rounds; server on core(s) "
               f"{cpus.format_cores(server_cores)}, loadgen on "
               f"{cpus.format_cores(generator_cores)}; results in {home}")
    todo = history.missing(plan, history.trials(home))
    click.echo(f"to measure: {sum(map(len, todo.values()))} of "
               f"{len(found) * len(plan.scenarios)} (point, scenario) pairs")
    try:
        history.measure(plan, home, placement, _trial_line)
        known = history.known_points(home)
        by_key = {p.key: p for p in known}
        found_series = history.series(history.trials(home), known, min_change)
        shown = {p.key for p in found}
        places: dict[tuple[str, Point, Point], list[str]] = {}
        for one in found_series:
            for c in one.changes:
                if c.before.key in shown and c.after.key in shown:
                    places.setdefault((one.scenario, c.before, c.after), []).append(
                        f"{one.metric.label} {c.magnitude:+.0%}")
        for (scenario, before, after), sizes in places.items():
            click.echo(f"change point: {scenario} between {before.label} and {after.label}"
                       f"{' ' + after.title if after.title else ''}: {', '.join(sizes)}")
        if not places:
            click.echo("no change point")
        if confirm and places:
            history.confirm(plan, found_series, home, placement, _trial_line,
                            lambda c: click.echo(
                                f"A/B {c.scenario} {c.comparison.metric.label} "
                                f"{by_key[c.before].label} -> {by_key[c.after].label}: "
                                f"{verdict_text(c.comparison)}, noise "
                                f"{noise_text(c.comparison)}"))
    except KeyboardInterrupt:
        click.echo(f"interrupted: the finished trials are in {home}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(f"report: {build_history_report(home, min_change)}")


@cli.command("bisect")
@click.argument("repository")
@click.option("--good", required=True, help="A commit without the regression.")
@click.option("--bad", required=True, help="A later commit with it.")
@click.option("--metric", "metric_name", default="cpu_per_request", show_default=True,
              help="throughput, p50, p99, p999 or cpu_per_request.")
@click.option("--kind", help="One request kind's latency (a name from the scenario).")
@click.option("--delta", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="The smallest change that counts (default: the metric's, 5% for CPU per "
                   "request and throughput, 10% for latencies).")
@click.option("--max-rounds", type=click.IntRange(min=2), default=12, show_default=True,
              help="Rounds an undecided step may grow to (in at most 3 looks) before the "
                   "search stops.")
@_subject_options
def bisect_command(repository: str, good: str, bad: str, metric_name: str, kind: str | None,
                   delta: float | None, max_rounds: int, results_dir: Path, **options: Any) -> None:
    """Find the first commit between GOOD and BAD that regressed METRIC, each step an
    interleaved A/B against GOOD. Exit 0 with the commit named, 2 when a step stays
    inconclusive."""
    from loadgen import history
    from loadgen.bisect import bisect as run_bisect
    from loadgen.points import points
    chosen = metric(metric_name, kind)
    if delta is not None:
        chosen = replace(chosen, delta=delta)
    found = points(repository, f"{good}..{bad}")
    plan = _plan(repository, found, **options)
    if len(plan.scenarios) != 1:
        raise LoadgenError("bisect judges one scenario: give one --scenario and one value "
                           "per --param")
    server_cores, generator_cores = cpus.split()
    click.echo(f"bisect {len(found) - 2} commits between {found[0].label} and "
               f"{found[-1].label} on {chosen.label} (δ {chosen.delta:.0%}); server on core(s) "
               f"{cpus.format_cores(server_cores)}, loadgen on "
               f"{cpus.format_cores(generator_cores)}")

    def step(one: Step) -> None:
        c = one.comparison
        ratio = f"{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}] ({level_text(c.level)})" \
            if c.ratio and c.low and c.high else "-"
        click.echo(f"{one.point.label} {one.point.title}: {ratio} over {len(c.ratios)} rounds, "
                   f"noise {noise_text(c)}, {verdict_text(c)}")

    check_folder(results_dir, "--results")
    outcome = run_bisect(plan, chosen, history.folder(repository, results_dir),
                         Placement(generator_cores, server_cores), max_rounds, None, step)
    if outcome.first_bad is None:
        click.echo(f"inconclusive: the first bad commit is after {outcome.good.label} and no "
                   f"later than {outcome.bad.label}; run with more --max-rounds")
        sys.exit(EXIT_USAGE)
    click.echo(f"first bad commit: {outcome.first_bad.key} {outcome.first_bad.title}")


@cli.command("nightly")
@click.argument("file", default="bench.toml", type=click.Path(path_type=Path))
@click.option("--repository", help="The subject's repository, instead of the file's.")
@click.option("--against", help="Compare with this commit instead of the last accepted one.")
@click.option("--results", "results_dir", default="results", show_default=True,
              type=click.Path(path_type=Path), help="The results store's root.")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path),
              help="Also write the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).")
def nightly_command(file: Path, repository: str | None, against: str | None,
                    results_dir: Path, summary_path: Path | None) -> None:
    """Measure the newest commit of FILE's [nightly] branch against the last accepted one.

    Exit code 0: no regression (the commit is accepted); 1: a confirmed regression; 2:
    inconclusive; 3: a harness error (nothing could be judged)."""
    from loadgen.nightly import HARNESS_ERROR, load_nightly, run_nightly
    server_cores, generator_cores = cpus.split()
    try:
        check_folder(results_dir, "--results")
        if summary_path is not None:
            check_file(summary_path, "--summary")
        config = load_nightly(file, repository)
        outcome = run_nightly(config, Placement(generator_cores, server_cores), results_dir,
                              against, _trial_line)
    except LoadgenError as exc:
        click.echo(f"loadgen: harness error: {exc}", err=True)
        sys.exit(HARNESS_ERROR)
    click.echo(outcome.summary)
    if summary_path is not None:
        with summary_path.open("a") as out:
            out.write(outcome.summary)
    sys.exit(outcome.code)


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
