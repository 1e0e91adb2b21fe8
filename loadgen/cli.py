"""The `loadgen` command: click options in, frozen options to one library call, text out.

A command's options are the fields of a frozen options class of the library, which give each
option's default, help (the text in its Annotated type) and type; the flags, and what only
click knows (a choice, a range), are given here. Every user error ends as one line on stderr
and exit code 2, never a traceback."""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable
from contextlib import closing, nullcontext
from functools import partial, reduce
from pathlib import Path
from typing import Annotated, Any

import click

from loadgen.campaigns import options as campaign
from loadgen.errors import LoadgenError
from loadgen.inproc.options import InprocOptions
from loadgen.measure.single import EXIT_INTERRUPTED, RunOptions
from loadgen.present.verdicts import CompareOptions
from loadgen.servers import serving
from loadgen.servers.inventory import server_lines, target_lines
from loadgen.servers.launchers import PROTOCOLS
from loadgen.workloads.choice import scenario_lines

# Each command imports the library it calls: history, bisect, nightly and the reports bring
# scipy and matplotlib, over two seconds of start-up that `loadgen run` has no use for.

EXIT_USAGE = 2
FILE, FOLDER = click.Path(path_type=Path), click.Path(path_type=Path, exists=True, file_okay=False)


def _field(spec: type, *decls: str, **attrs: Any) -> Callable[[Any], Any]:
    """click.option for the field of `spec` named by the last of `decls` (a name, or a flag)."""
    name = decls[-1] if decls[-1].isidentifier() else decls[-1].lstrip("-").replace("-", "_")
    default = next(f.default for f in dataclasses.fields(spec) if f.name == name)
    kind = typing.get_type_hints(spec, include_extras=True)[name]
    if typing.get_origin(kind) is Annotated:
        kind, attrs["help"] = typing.get_args(kind)
    if isinstance(kind, types.UnionType):  # X | None
        kind = next(t for t in typing.get_args(kind) if t is not type(None))
    attrs |= {"required": True} if default is dataclasses.MISSING else {"default": default}
    if kind is bool or typing.get_origin(kind) is tuple:
        attrs["is_flag" if kind is bool else "multiple"] = True
    elif kind in (int, float, Path):
        attrs.setdefault("type", FILE if kind is Path else kind)
    return click.option(*decls, show_default=True, **attrs)


def _warn(text: str) -> None:
    """Said on stderr in one line, whether the command goes on or not."""
    click.echo(f"loadgen: {text}", err=True)


def _interrupted(where: object) -> None:
    click.echo(f"interrupted: the finished trials are in {where}", err=True)
    sys.exit(EXIT_INTERRUPTED)


@click.group()
@click.version_option(package_name="loadgen")
def cli() -> None:
    """Load testing and latency profiling for Python ASGI stacks."""


@cli.command()
@click.argument("url", required=False)
@_field(RunOptions, "-c", "--connections")
@_field(RunOptions, "--rate")
@_field(RunOptions, "--stages")
@_field(RunOptions, "--arrival", type=click.Choice(["constant", "poisson"]))
@_field(RunOptions, "-d", "--duration")
@_field(RunOptions, "--warmup")
@_field(RunOptions, "--timeout")
@_field(RunOptions, "-p", "--processes")
@_field(RunOptions, "--cpus", "cpu_list")
@_field(RunOptions, "--cluster", metavar="tcp://HOST:8786")
@_field(RunOptions, "--seed")
@_field(RunOptions, "--timer-slack")
@_field(RunOptions, "--target")
@_field(RunOptions, "--server")
@_field(RunOptions, "--workers")
@_field(RunOptions, "--scenario")
@_field(RunOptions, "--param", "params", metavar="NAME=VALUE")
@_field(RunOptions, "--check-every")
@_field(RunOptions, "--variants")
@_field(RunOptions, "--json", "json_path")
@_field(RunOptions, "--max-failed", "max_failed", metavar="SHARE")
@_field(RunOptions, "--hlog", "hlog_path")
@_field(RunOptions, "--profile", "profiled")
@_field(RunOptions, "--insecure")
@_field(RunOptions, "--ca", metavar="FILE")
@_field(RunOptions, "--tls-resume")
@_field(RunOptions, "--unix-socket", metavar="PATH")
@_field(RunOptions, "--h2")
@_field(RunOptions, "--streams")
@_field(RunOptions, "--protocol", type=click.Choice(PROTOCOLS))
def run(**given: Any) -> None:
    """Load URL (or a target loadgen starts) and report latency and throughput.

    Exit code 0: done; 1: no request succeeded, or more failed than --max-failed; 2: bad
    input, or a result that could not be written where asked; 130: interrupted."""
    from loadgen.measure.single import finish_run, run_single
    from loadgen.present.summary import Progress, render
    options = RunOptions(**given)
    # A live progress line on a terminal; nothing otherwise.
    with closing(Progress(sys.stdout)) if sys.stdout.isatty() else nullcontext() as progress:
        result = run_single(options, progress, _warn)
    click.echo(render(result))
    sys.exit(finish_run(options, result, click.echo, _warn))


@cli.command()
@click.argument("target")
@_field(serving.ServeOptions, "--server")
@_field(serving.ServeOptions, "--port")
@_field(serving.ServeOptions, "--workers")
@_field(serving.ServeOptions, "--protocol", type=click.Choice(PROTOCOLS))
def serve(**given: Any) -> None:
    """Serve TARGET on 127.0.0.1 until Ctrl-C, pinned as `run --target` would pin it."""
    serving.serve(serving.ServeOptions(**given), click.echo)


@cli.command("inproc")
@_field(InprocOptions, "--target")
@_field(InprocOptions, "--app-dir", type=FOLDER)
@_field(InprocOptions, "--with", "packages", metavar="REQUIREMENT")
@_field(InprocOptions, "--scenario")
@_field(InprocOptions, "--param", "params", metavar="NAME=VALUE")
@_field(InprocOptions, "--kind", "kinds")
@_field(InprocOptions, "--instructions")
@_field(InprocOptions, "--calls")
@_field(InprocOptions, "--repeats")
@_field(InprocOptions, "--variants")
@_field(InprocOptions, "--json", "json_path")
@_field(InprocOptions, "--profile", "profile_dir",
        type=click.Path(path_type=Path, file_okay=False))
def inproc_command(**given: Any) -> None:
    """The framework's own cost per request kind: the scenario's requests called straight into
    the target's ASGI app, no server and no sockets."""
    from loadgen.inproc.options import measure_kinds
    measure_kinds(InprocOptions(**given), click.echo, _warn)


@cli.command("servers")
def list_servers() -> None:
    """List the servers loadgen can start, and whether each is installed."""
    click.echo("\n".join(server_lines()))


@cli.command("bench")
@click.argument("file", default="bench.toml", type=FILE)
@_field(campaign.BenchOptions, "--results", "results_dir")
@_field(campaign.BenchOptions, "--profile", "profiled")
@_field(campaign.BenchOptions, "--budget")
def bench_command(**given: Any) -> None:
    """Run the bench file's matrix in interleaved rounds, then compare with the baseline."""
    from loadgen.campaigns.bench_session import run_bench_session
    from loadgen.present.report import build_report
    session = run_bench_session(campaign.BenchOptions(**given), click.echo, _warn)
    if session.interrupted:
        _interrupted(f"{session.store.path} (`loadgen report {session.store.path}` builds "
                     f"their report)")
    click.echo(session.text)
    click.echo(f"results: {session.store.path}\nreport: {build_report(session.store.path)}")


@cli.command("report")
@click.argument("run_dir", required=False, type=FOLDER)
def report_command(run_dir: Path | None) -> None:
    """Rebuild RUN_DIR's HTML report (default: the latest run) from its stored trials."""
    from loadgen.present.report import build_report, latest_run
    click.echo(build_report(run_dir or latest_run()))


@cli.command("compare")
@click.argument("run_dir", type=FOLDER)
@click.argument("after", required=False, type=FOLDER)
@_field(CompareOptions, "--baseline")
@_field(CompareOptions, "--delta", "deltas", metavar="METRIC=FRACTION")
def compare_command(**given: Any) -> None:
    """Compare a bench run's cells with its baseline, or (given AFTER) each cell of run AFTER
    with the same cell of RUN_DIR: ratio, 95% interval, verdict.

    Exit code 0: no regression; 1: a confirmed regression; 2: inconclusive; 3: nothing to
    compare."""
    from loadgen.analysis.compare import exit_code, markdown
    from loadgen.present.verdicts import compare_stored
    comparisons, left_out = compare_stored(CompareOptions(**given), _warn)
    if comparisons:
        click.echo(markdown(comparisons, left_out))
    sys.exit(exit_code(comparisons))


def _subject_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options history and bisect share: what serves the subject, and the load."""
    option = partial(_field, campaign.SubjectOptions)
    options = [option("--target"), option("--app-dir", type=FOLDER),
               option("--with", "packages", metavar="REQUIREMENT"), option("--server"),
               option("--workers"), option("--scenario", "scenario_names"),
               option("--param", "params", metavar="NAME=VALUE[,VALUE...]"), option("--rate"),
               option("-c", "--connections"), option("-d", "--duration"), option("--warmup"),
               option("--rounds"), option("--verify"), option("--results", "results_dir")]
    return reduce(lambda decorated, one: one(decorated), reversed(options), command)


@cli.command("history")
@click.argument("subject")
@_field(campaign.HistoryOptions, "--revs", "series_text", metavar="SERIES")
@_field(campaign.HistoryOptions, "--every", type=click.IntRange(min=1))
@_field(campaign.HistoryOptions, "--min-change")
@_field(campaign.HistoryOptions, "--confirm")
@_subject_options
def history_command(**given: Any) -> None:
    """Measure SUBJECT at every point of a series and find the change points.

    SUBJECT is a git repository (a path or URL) with --revs, or a package's released
    versions: starlette==0.30.0..1.10.0 (every release from one to the other) or
    starlette==0.30.0,0.37.2. Points measured before (same server, scenario and load) are
    not measured again."""
    from loadgen.campaigns.history_session import run_history
    from loadgen.present.report import build_history_report
    options = campaign.HistoryOptions(**given)
    session = run_history(options, click.echo)
    if session.interrupted:
        _interrupted(session.home)
    click.echo(f"report: {build_history_report(session.home, options.min_change)}")


@cli.command("bisect")
@click.argument("repository")
@_field(campaign.BisectOptions, "--good")
@_field(campaign.BisectOptions, "--bad")
@_field(campaign.BisectOptions, "--metric", "metric_name")
@_field(campaign.BisectOptions, "--kind")
@_field(campaign.BisectOptions, "--delta", type=click.FloatRange(0, 1, min_open=True,
                                                               max_open=True))
@_field(campaign.BisectOptions, "--max-rounds", type=click.IntRange(min=2))
@_subject_options
def bisect_command(**given: Any) -> None:
    """Find the first commit between GOOD and BAD that regressed METRIC, each step an
    interleaved A/B against GOOD. Exit 0 with the commit named, 2 when a step stays
    inconclusive."""
    from loadgen.campaigns.bisect_session import run_bisect
    outcome = run_bisect(campaign.BisectOptions(**given), click.echo)
    if outcome.first_bad is None:
        click.echo(f"inconclusive: the first bad commit is after {outcome.good.label} and no "
                   f"later than {outcome.bad.label}; run with more --max-rounds")
        sys.exit(EXIT_USAGE)
    click.echo(f"first bad commit: {outcome.first_bad.key} {outcome.first_bad.title}")


@cli.command("ab")
@click.argument("repository")
@_field(campaign.AbOptions, "--base")
@_field(campaign.AbOptions, "--head")
@_field(campaign.AbOptions, "--metric", "metric_names")
@_field(campaign.AbOptions, "--max-rounds", type=click.IntRange(min=1))
@_field(campaign.AbOptions, "--summary", "summary_path")
@_subject_options
def ab_command(**given: Any) -> None:
    """Measure a pull request: HEAD against BASE of REPOSITORY, an interleaved A/B, and a
    Markdown table per request kind (stdout, and --summary).

    Exit code 0: no regression beyond δ; 1: a regression; 2: inconclusive; 3: a harness
    error (nothing could be judged)."""
    from loadgen.campaigns.pull_request import HARNESS_ERROR, run_ab
    options = campaign.AbOptions(**given)
    try:
        outcome = run_ab(options, click.echo)
    except LoadgenError as exc:
        _warn(f"harness error: {exc}")
        sys.exit(HARNESS_ERROR)
    summary = outcome.summary()
    if options.summary_path is not None:
        with options.summary_path.open("a") as out:
            out.write(summary)
    click.echo(summary)
    sys.exit(outcome.code)


@cli.command("nightly")
@click.argument("file", default="bench.toml", type=FILE)
@_field(campaign.NightlyOptions, "--repository")
@_field(campaign.NightlyOptions, "--against")
@_field(campaign.NightlyOptions, "--results", "results_dir")
@_field(campaign.NightlyOptions, "--summary", "summary_path")
def nightly_command(**given: Any) -> None:
    """Measure the newest commit of FILE's [nightly] branch against the last accepted one.

    Exit code 0: no regression (the commit is accepted); 1: a confirmed regression; 2:
    inconclusive; 3: a harness error (nothing could be judged)."""
    from loadgen.campaigns.nightly import HARNESS_ERROR, nightly, write_summary
    from loadgen.present.report import build_history_report
    options = campaign.NightlyOptions(**given)
    try:
        outcome = nightly(options, click.echo)
        # The report is built here, not by the job (see nightly.run_nightly).
        report = build_history_report(outcome.home)
        summary = write_summary(outcome, report, options.summary_path)
    except LoadgenError as exc:
        _warn(f"harness error: {exc}")
        sys.exit(HARNESS_ERROR)
    click.echo(summary)
    sys.exit(outcome.code)


@cli.command("scenarios")
def list_scenarios() -> None:
    """List the built-in scenarios and their parameters."""
    click.echo("\n".join(scenario_lines()))


@cli.command("targets")
def list_targets() -> None:
    """List the apps under test in targets/, and whether their framework is installed."""
    click.echo("\n".join(target_lines()))


def main() -> None:
    """Console entry point: user errors become one line and exit code 2."""
    try:
        cli.main(standalone_mode=False, prog_name="loadgen")
    except LoadgenError as exc:
        _warn(f"error: {exc}")
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:  # a usage error among them, with exit code 2
        _warn(f"error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _warn("aborted")
        sys.exit(EXIT_INTERRUPTED)
