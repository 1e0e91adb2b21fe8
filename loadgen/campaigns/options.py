"""The campaign commands' options (bench, history, bisect, nightly), as frozen objects: each
field's default is its option's, and the text in its Annotated type is its option's help.

Nothing here imports more than the standard library, so that the command line can read these
without the analyses' and the reports' start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

RESULTS = Path("results")
RESULTS_HELP = "The results store's root."


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    file: Path  # the bench file
    results_dir: Annotated[Path, RESULTS_HELP] = RESULTS
    profiled: Annotated[bool, "py-spy samples every trial's server in its measured window: "
                              "TRIAL.flame.svg and TRIAL.speedscope.json in the run folder, "
                              "linked from the report. It perturbs the figures; each trial "
                              "says so."] = False
    budget: Annotated[str | None, "The whole bench's time (e.g. 15m), instead of the file's "
                                  "`budget`: rounds for inconclusive cells while it lasts; 0 for "
                                  "the planned rounds only."] = None


@dataclass(frozen=True, kw_only=True)
class SubjectOptions:
    """What serves the subject at each point (history, bisect), the load, and where the
    results go."""

    target: Annotated[str | None, "The target app NAME_app.py that uses the subject (default: "
                                  "the subject's name)."] = None
    app_dir: Annotated[Path | None, "Where NAME_app.py lives (default: targets/)."] = None
    packages: Annotated[tuple[str, ...], "Another package of the target's environment; repeat "
                                         "for several."] = ()
    server: str = "uvicorn"
    workers: int = 1
    scenario_names: Annotated[tuple[str, ...], "A built-in scenario or a file; repeat for "
                                               "several."]
    params: Annotated[tuple[str, ...], "A scenario parameter; several values measure each."] = ()
    # 2,000 req/s for 5 s: at 1,000 req/s for 3 s the server's wake-ups weigh more per
    # request, and CPU per request spread ±13% a round between identical builds here;
    # at 2,000 for 5 s ±5.5% (benchmarks/noise.py).
    rate: Annotated[float, "Open loop at this many requests per second (0: closed loop)."] = 2000
    connections: int = 16
    duration: str = "5s"
    warmup: str = "1s"
    rounds: Annotated[int | None, "Trials of each point (history) or first rounds of each A/B "
                                  "(default: 3, and 1 on the callgrind server, whose counts "
                                  "repeat)."] = None
    verify: Annotated[bool, "On the callgrind server: measure each point twice and fail if "
                            "its two counts of a request kind differ by over 0.01%."] = False
    results_dir: Annotated[Path, RESULTS_HELP] = RESULTS


@dataclass(frozen=True, kw_only=True)
class HistoryOptions(SubjectOptions):
    subject: str  # a repository, or a package's versions (starlette==0.30.0..1.10.0)
    series_text: Annotated[str | None, "For a repository: A..B (from A to B), a,b,c, tags or "
                                       "tags:PATTERN."] = None
    every: Annotated[int, "Every Nth commit or version of the series (its ends always)."] = 1
    min_change: Annotated[float, "The smallest step reported as a change point."] = 0.05
    confirm: Annotated[bool, "Run an interleaved A/B across each change point and keep the "
                             "verdict."] = False


# loadgen.results.metrics.METRICS by name (tests/test_cli.py: none is missing); not imported,
# for the reason above.
METRIC_NAMES = "throughput, p50, p99, p999, cpu_per_request, instructions or inproc_us"
METRIC_HELP = (f"{METRIC_NAMES} (default: instructions on the callgrind server, else "
               "cpu_per_request).")


@dataclass(frozen=True, kw_only=True)
class BisectOptions(SubjectOptions):
    repository: str
    good: Annotated[str, "A commit without the regression."]
    bad: Annotated[str, "A later commit with it."]
    metric_name: Annotated[str | None, METRIC_HELP] = None
    kind: Annotated[str | None, "One request kind's latency or instructions (a name from the "
                                "scenario)."] = None
    delta: Annotated[float | None, "The smallest change that counts (default: the metric's, 5% "
                                   "for CPU per request and throughput, 10% for "
                                   "latencies)."] = None
    max_rounds: Annotated[int, "Rounds an undecided step may grow to (in at most 3 looks) "
                               "before the search stops."] = 12


@dataclass(frozen=True, kw_only=True)
class AbOptions(SubjectOptions):
    repository: str
    base: Annotated[str, "The commit the change is measured against (a pull request's base)."]
    head: Annotated[str, "The commit with the change (a pull request's head)."]
    metric_names: Annotated[tuple[str, ...], f"{METRIC_NAMES}; again for more (default: "
                                             "instructions on the callgrind server, else "
                                             "cpu_per_request and p50)."] = ()
    max_rounds: Annotated[int, "Rounds an undecided comparison may grow to (in at most 3 "
                               "looks)."] = 12
    summary_path: Annotated[Path | None, "Also append the Markdown table here (e.g. "
                                         "$GITHUB_STEP_SUMMARY)."] = None


@dataclass(frozen=True, kw_only=True)
class NightlyOptions:
    file: Path  # the bench file with the [nightly] section
    repository: Annotated[str | None, "The subject's repository, instead of the file's."] = None
    against: Annotated[str | None, "Compare with this commit instead of the last accepted "
                                   "one."] = None
    results_dir: Annotated[Path, RESULTS_HELP] = RESULTS
    summary_path: Annotated[Path | None, "Also write the Markdown summary here (e.g. "
                                         "$GITHUB_STEP_SUMMARY)."] = None
