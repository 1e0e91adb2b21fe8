"""The nightly job: measure the newest commit of a branch against the last accepted one in an
interleaved A/B, add both to the subject's history, rebuild the history report and write a
Markdown summary. Configured by the [nightly] section of the bench file:

    [nightly]
    repository = "https://github.com/Kludex/starlette.git"   # or a local path
    branch = "main"
    target = "starlette"           # NAME_app.py, in app_dir (default targets/)
    packages = ["python-multipart"]  # the rest of the target's environment
    server = "uvicorn"
    scenarios = ["routing"]        # labels of the file's [[scenario]] entries
    rounds = 5
    metrics = ["p50", "cpu_per_request"]
    deltas = { p50 = 0.15 }        # thresholds other than the defaults (10% p50, 5% CPU)

Each metric asks "worse than δ?": yes when its whole interval is beyond δ, no when none of it
is, and while the interval straddles δ the A/B runs more rounds in one step, as many as the
noise seen says it needs, up to twice `rounds` (history.ab; a percentile with too few samples
is shown, not gated). A commit for
which every answer is no becomes the last accepted one; the first night compares with the
newest commit's parent.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loadgen import schema
from loadgen.bench import TrialSink
from loadgen.benchfile import ScenarioEntry, ServerEntry, load_bench
from loadgen.compare import Comparison, Metric, answered, gate_code, markdown, metric
from loadgen.errors import LoadgenError
from loadgen.history import HistoryPlan, ab, folder
from loadgen.output import write_atomically
from loadgen.points import commit_points, repository, resolve
from loadgen.report import build_history_report
from loadgen.runner import Placement
from loadgen.servers import TARGETS_DIR
from loadgen.store import RESULTS_DIR

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
           "workers": schema.at_least(1), "scenarios": schema.LIST, "rounds": schema.at_least(2),
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
    metrics = _metrics(path, section)
    return Nightly(
        str(repo), str(section.get("branch", "main")), str(section.get("target", "starlette")),
        (path.parent / section["app_dir"]).resolve() if "app_dir" in section else TARGETS_DIR,
        tuple(str(p) for p in section.get("packages", ())),
        ServerEntry(str(section.get("server", "uvicorn")), int(section.get("workers", 1))),
        tuple(by_label[s] for s in wanted), bench.load, int(section.get("rounds", 5)), metrics)


def _metrics(path: Path, section: dict[str, Any]) -> tuple[Metric, ...]:
    """The gated metrics, each with its threshold: a noisy runner may need wider ones."""
    names = [str(m) for m in section.get("metrics", ("p50", "cpu_per_request"))]
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
    code: int  # 0 no regression, 1 a confirmed regression, 2 inconclusive, 3 harness error
    summary: str  # Markdown
    report: Path


def _accepted(home: Path) -> list[dict[str, str]]:
    path = home / "accepted.json"
    return json.loads(path.read_text()) if path.exists() else []


def run_nightly(config: Nightly, placement: Placement, root: Path = RESULTS_DIR,
                against: str | None = None, on_trial: TrialSink | None = None
                ) -> NightlyResult:
    """Measure the branch's newest commit against `against` (default: the last accepted
    commit, or the newest one's parent on the first night)."""
    repo = repository(config.repository)
    home = folder(config.repository, root)
    newest = resolve(repo, config.branch)
    accepted = _accepted(home)
    if against is not None:
        base, why = resolve(repo, against), "as asked"
    elif accepted:
        base, why = accepted[-1]["key"], "the last accepted commit"
    else:
        base, why = resolve(repo, f"{newest}^"), "its parent (no commit accepted yet)"
    if base == newest:
        report = build_history_report(home)
        return NightlyResult(0, f"{newest[:8]} is already accepted: nothing to measure.\n",
                             report)
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
        failed += [f"{t['cell']['name']}: {t.get('error', t['status'])}" for t in store.trials()
                   if t["status"] != "ok"]
    code = HARNESS_ERROR if failed else gate_code(comparisons)
    if code == 0:
        accepted.append({"key": after.key, "label": after.label, "title": after.title,
                         "accepted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        write_atomically(home / "accepted.json", json.dumps(accepted, indent=1) + "\n")
    report = build_history_report(home)
    verdict = {0: "no regression beyond δ: accepted", 1: "REGRESSION",
               2: "inconclusive (a regression beyond δ is not ruled out): not accepted",
               3: "nothing judged (a harness error, or only percentiles with too few "
                  "samples): not accepted"}[code]
    summary = "\n".join([
        f"# loadgen nightly: {config.repository} {config.branch}", "",
        f"- newest: `{after.label}` {after.title} ({after.date})",
        f"- against: `{before.label}` {before.title} ({why})",
        f"- verdict: **{verdict}** (exit {code})", "",
        markdown(comparisons, {}), "",
        *(f"- failed trial {line}" for line in failed),
        f"History report: {report}", ""])
    write_atomically(home / "nightly-summary.md", summary)
    return NightlyResult(code, summary, report)
