"""The nightly job: measure the newest commit of a branch against the last accepted one in an
interleaved A/B, add both to the subject's history and write a Markdown summary naming the
history report, which the caller rebuilds. Configured by the [nightly] section of the bench file:

    [nightly]
    repository = "https://github.com/Kludex/starlette.git"   # or a local path
    branch = "main"
    target = "starlette"           # NAME_app.py, in app_dir (default targets/)
    packages = ["python-multipart"]  # the rest of the target's environment
    server = "uvicorn"
    scenarios = ["routing"]        # labels of the file's [[scenario]] entries
    rounds = 5                     # default 5; 1 on callgrind, whose counts repeat
    metrics = ["p50", "cpu_per_request"]  # default cpu_per_request, p50; instructions on callgrind
    deltas = { p50 = 0.15 }        # thresholds other than the defaults (10% p50, 5% CPU)

Each metric asks "worse than δ?": yes when its whole interval is beyond δ, no when none of it
is, and while the interval straddles δ the A/B runs more rounds in one step, as many as the
noise seen says it needs, up to twice `rounds` (history.ab; a percentile with too few samples
is shown, not gated). A commit for
which every answer is no becomes the last accepted one; the first night compares with the
newest commit's parent.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loadgen import schema
from loadgen.analysis.compare import Comparison, answered, gate_code, markdown
from loadgen.campaigns.bench import TrialSink
from loadgen.campaigns.benchfile import ScenarioEntry, ServerEntry, load_bench
from loadgen.campaigns.history import HistoryPlan, ab, folder
from loadgen.campaigns.history_session import trial_line
from loadgen.campaigns.options import NightlyOptions
from loadgen.campaigns.points import commit_points, repository, resolve
from loadgen.campaigns.sweep import default_metrics
from loadgen.errors import LoadgenError
from loadgen.measure.executors import deterministic
from loadgen.measure.runner import Placement
from loadgen.results.history import Accepted, Point, accepted_commits, record_accepted
from loadgen.results.metrics import Metric, metric
from loadgen.results.model import Trial
from loadgen.results.output import check_file, check_folder, write_atomically
from loadgen.results.store import RESULTS_DIR
from loadgen.servers.launchers import TARGETS_DIR

HARNESS_ERROR = 3


@dataclass(frozen=True)
class Nightly:
    repository: str
    branch: str
    target: str
    app_dir: Path
    packages: tuple[str, ...]
    server: ServerEntry
    scenarios: tuple[ScenarioEntry, ...]
    load: dict[str, Any]
    rounds: int
    metrics: tuple[Metric, ...]


NIGHTLY = {"repository": schema.TEXT, "branch": schema.TEXT, "target": schema.TEXT,
           "app_dir": schema.TEXT, "packages": schema.LIST, "server": schema.TEXT,
           "workers": schema.at_least(1), "scenarios": schema.LIST, "rounds": schema.at_least(1),
           "metrics": schema.LIST, "deltas": schema.TABLE}


def load_nightly(path: Path, repository_override: str | None = None) -> Nightly:
    """The [nightly] section of a bench file, its scenarios and load taken from the file."""
    bench = load_bench(path)
    section = tomllib.loads(path.read_text()).get("nightly")
    if not isinstance(section, dict):
        raise LoadgenError(f"{path}: no [nightly] section")
    schema.check(section, NIGHTLY, f"{path}: [nightly]")
    repo = repository_override or section.get("repository")
    if not repo:
        raise LoadgenError(f"{path}: [nightly] needs the subject's repository")
    if "://" not in str(repo) and not Path(str(repo)).is_absolute():
        repo = str((path.parent / str(repo)).resolve())
    by_label = {s.label: s for s in bench.scenarios}
    wanted = [str(s) for s in section.get("scenarios", list(by_label))]
    unknown = [s for s in wanted if s not in by_label]
    if unknown:
        raise LoadgenError(f"{path}: [nightly] names scenario {unknown[0]!r}, which no "
                           f"[[scenario]] of the file has")
    server = str(section.get("server", "uvicorn"))
    # Counts repeat: one round, on instructions, unless the file says otherwise.
    repeats = deterministic(server)
    rounds = int(section.get("rounds", 1 if repeats else 5))
    if rounds < 2 and not repeats:
        raise LoadgenError(f"{path}: [nightly] rounds must be at least 2 on {server} (1 on a "
                           f"server whose counts repeat)")
    metrics = _metrics(path, section, default_metrics(server))
    return Nightly(
        str(repo), str(section.get("branch", "main")), str(section.get("target", "starlette")),
        (path.parent / section["app_dir"]).resolve() if "app_dir" in section else TARGETS_DIR,
        tuple(str(p) for p in section.get("packages", ())),
        ServerEntry(server, int(section.get("workers", 1))),
        tuple(by_label[s] for s in wanted), bench.load, rounds, metrics)


def _metrics(path: Path, section: dict[str, Any], default: tuple[str, ...]
             ) -> tuple[Metric, ...]:
    """The gated metrics, each with its threshold: a noisy runner may need wider ones."""
    names = [str(m) for m in section.get("metrics", default)]
    deltas = section.get("deltas", {})  # a table: the schema has seen to it
    for name, delta in deltas.items():
        if name not in names:
            raise LoadgenError(f"{path}: [nightly] deltas names {name!r}, which is not one of "
                               f"its metrics ({', '.join(names)})")
        if not isinstance(delta, int | float) or not 0 < delta < 1:
            raise LoadgenError(f"{path}: [nightly] delta of {name} must be a fraction between "
                               f"0 and 1, not {delta!r}")
    return tuple(replace(metric(name), delta=float(deltas.get(name, metric(name).delta)))
                 for name in names)


@dataclass(frozen=True)
class NightlyResult:
    """What a night found. Its history report is the caller's to build (see run_nightly);
    `summary` names it."""

    code: int  # 0 no regression, 1 a confirmed regression, 2 inconclusive, 3 harness error
    home: Path  # the subject's history
    config: Nightly
    newest: str  # the branch's newest commit
    # The commits measured, the one it was measured against first; None: accepted already.
    points: tuple[Point, Point] | None = None
    why: str = ""  # why the commit against
    comparisons: tuple[Comparison, ...] = ()
    failed: tuple[str, ...] = ()  # each failed trial: its cell, and why

    def summary(self, report: Path) -> str:
        """The night in Markdown, naming its history report."""
        if self.points is None:
            return f"{self.newest[:8]} is already accepted: nothing to measure.\n"
        before, after = self.points
        verdict = {0: "no regression beyond δ: accepted", 1: "REGRESSION",
                   2: "inconclusive (a regression beyond δ is not ruled out): not accepted",
                   3: "nothing judged (a harness error, or only percentiles with too few "
                      "samples): not accepted"}[self.code]
        return "\n".join([
            f"# loadgen nightly: {self.config.repository} {self.config.branch}", "",
            f"- newest: `{after.label}` {after.title} ({after.date})",
            f"- against: `{before.label}` {before.title} ({self.why})",
            f"- verdict: **{verdict}** (exit {self.code})", "",
            markdown(list(self.comparisons), {}), "",
            *(f"- failed trial {line}" for line in self.failed),
            f"History report: {report}", ""])


def run_nightly(config: Nightly, placement: Placement, root: Path = RESULTS_DIR,
                against: str | None = None, on_trial: TrialSink | None = None
                ) -> NightlyResult:
    """Measure the branch's newest commit against `against` (default: the last accepted
    commit, or the newest one's parent on the first night)."""
    # No report is built here: the job measures and judges, and the history report is a view
    # of the stored trials that the caller rebuilds afterwards (present.report), as after
    # `loadgen history`; running a campaign then never depends on presenting it.
    repo = repository(config.repository)
    home = folder(config.repository, root)
    newest = resolve(repo, config.branch)
    accepted = accepted_commits(home)
    if against is not None:
        base, why = resolve(repo, against), "as asked"
    elif accepted:
        base, why = accepted[-1].key, "the last accepted commit"
    else:
        base, why = resolve(repo, f"{newest}^"), "its parent (no commit accepted yet)"
    if base == newest:
        return NightlyResult(0, home, config, newest)
    before, after = commit_points(config.repository, f"{base},{newest}")
    plan = HistoryPlan(config.repository, (before, after), config.server, config.scenarios,
                       config.load, config.target, config.app_dir, config.packages,
                       config.rounds)
    comparisons: list[Comparison] = []
    failed: list[str] = []
    for scenario in config.scenarios:
        found, store = ab(plan, before, after, scenario, config.metrics, home, placement, on_trial,
                          config.rounds * 2, answered)
        comparisons += found
        failed += [f"{t.cell.name}: {t.error or t.status}" for t in store.trials()
                   if t.status != "ok"]
    code = HARNESS_ERROR if failed else gate_code(comparisons)
    if code == 0:
        record_accepted(home, [*accepted, Accepted(
            key=after.key, label=after.label, title=after.title,
            accepted_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))])
    return NightlyResult(code, home, config, newest, (before, after), why, tuple(comparisons),
                         tuple(failed))


def write_summary(result: NightlyResult, report: Path, also: Path | None = None) -> str:
    """The night's summary naming `report`: kept as HOME/nightly-summary.md when the night
    measured, and appended to `also` (--summary)."""
    summary = result.summary(report)
    if result.points is not None:
        write_atomically(result.home / "nightly-summary.md", summary)
    if also is not None:
        with also.open("a") as out:
            out.write(summary)
    return summary


def nightly(options: NightlyOptions, say: Callable[[str], None]) -> NightlyResult:
    """`loadgen nightly` as asked: where the results go checked first, then the file's
    [nightly] section read and the night run, each trial said in a line."""
    check_folder(options.results_dir, "--results")
    if options.summary_path is not None:
        check_file(options.summary_path, "--summary")
    config = load_nightly(options.file, options.repository)

    def on_trial(trial: Trial, left_s: float) -> None:
        say(trial_line(trial))

    return run_nightly(config, Placement.apart(), options.results_dir, options.against,
                       on_trial)
