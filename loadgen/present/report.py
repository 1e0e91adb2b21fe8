"""The HTML reports, rebuilt from stored trials alone (nothing is measured): a bench run's
(RUN/report/index.html with its PNG figures, and RUN/summary.md with the verdict table) and a
history's (HISTORY/report/index.html)."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

from hdrh.histogram import HdrHistogram

from loadgen.analysis.changepoints import MIN_MAGNITUDE
from loadgen.analysis.compare import compare, level_text, markdown, noise_text, verdict_text
from loadgen.analysis.series import Series, series
from loadgen.errors import LoadgenError
from loadgen.present import plots
from loadgen.present.cells import cells_markdown
from loadgen.present.two_ways import two_ways
from loadgen.present.verdicts import run_baseline
from loadgen.results import histogram
from loadgen.results.figures import HttpResult
from loadgen.results.history import Confirmed, confirmed, known_points, trials
from loadgen.results.metrics import Metric, metric
from loadgen.results.model import Trial
from loadgen.results.store import RESULTS_DIR, RunStore

PACKAGES = ("starlette", "fastapi", "python-multipart", "uvicorn", "granian", "hypercorn",
            "daphne", "httptools", "uvloop", "anyio", "pydantic")


def latest_run(root: Path = RESULTS_DIR) -> Path:
    """The most recent run folder under results/MACHINE/."""
    runs = sorted((p for p in root.glob("*/*") if any(p.glob("trial-*.json"))),
                  key=lambda p: p.name)
    if not runs:
        raise LoadgenError(f"no bench run under {root}/: run `make bench` first")
    return runs[-1]


def _by_scenario(trials: Iterable[Trial]) -> dict[str, list[Trial]]:
    grouped: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        grouped[trial.cell.scenario].append(trial)
    return dict(sorted(grouped.items()))


def _kind_histograms(trials: list[Trial]) -> dict[str, dict[str, HdrHistogram]]:
    """kind -> cell -> the cell's corrected histogram of that kind, merged over its rounds."""
    kinds: dict[str, dict[str, HdrHistogram]] = defaultdict(dict)
    for trial in trials:
        result = trial.usable_result
        if not isinstance(result, HttpResult):
            continue  # in process: no latencies
        for kind, figures in result.kinds.items():
            merged = kinds[kind].setdefault(trial.cell.name, histogram.new_histogram())
            merged.add(HdrHistogram.decode(figures.histograms.corrected))
    return {k: dict(sorted(v.items())) for k, v in kinds.items()}


# The metrics of the spread panels, those a scenario's results have. In closed loop its p99
# follows from its throughput, which is shown.
SPREAD = ("throughput", "p99", "cpu_per_request", "instructions", "inproc_us")


def _spread(trials: list[Trial]) -> dict[str, dict[str, list[float]]]:
    """Per panel title, each cell's value in every usable round."""
    closed = not any(r.open_loop for t in trials if (r := t.usable_result) is not None)
    shown = [metric(name) for name in SPREAD if not (closed and name == "p99")]
    values: dict[Metric, dict[str, list[float]]] = {m: {} for m in shown}
    for trial in sorted(trials, key=lambda t: t.cell.name):
        result = trial.usable_result
        for chosen, cells in values.items():
            cells.setdefault(trial.cell.name, [])
            value = None if result is None else chosen.value(result)
            if value:
                cells[trial.cell.name].append(value)
    return {f"{m.title} ({m.unit})": cells for m, cells in values.items()
            if any(cells.values())}


def _timeline(result: HttpResult, title: str, path: Path) -> None:
    series = result.series
    samples = result.server.samples if result.server is not None else ()
    # The last sample comes right after the run: too short a span to give a CPU share.
    spans = [(a, b) for a, b in pairwise(samples) if b.at - a.at >= 0.5]
    plots.timeline([s.second for s in series], [s.requests for s in series],
                   [s.p99_us / 1000 for s in series], [b.at for _, b in spans],
                   [(b.cpu_s - a.cpu_s) / (b.at - a.at) for a, b in spans],
                   [b.rss_mb for _, b in spans], title, path)


def _head(title: str) -> str:
    """A report page's opening, to its body: both pages look alike."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1400px; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 90%; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>"""


def _table(headers: list[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(name: str, alt: str) -> str:
    return f'<figure><img src="{name}" alt="{html.escape(alt)}"></figure>'


def _profiles(trials: list[Trial]) -> str:
    """Links to each profiled trial's py-spy files, which lie in the run folder."""
    profiled = sorted(((t, t.result.py_spy) for t in trials
                       if t.result is not None and t.result.profiled and t.result.py_spy),
                      key=lambda pair: (pair[0].cell.name, pair[0].round))
    if not profiled:
        return ""
    items = []
    for trial, py_spy in profiled:
        links = ", ".join(f'<a href="../{quote(path.name)}">{label}</a>'
                          for path, label in ((py_spy.flamegraph, "flame graph"),
                                              (py_spy.speedscope, "speedscope profile"))
                          if path is not None)
        items.append(f"<li>{html.escape(trial.cell.name)}, round {trial.round + 1}: "
                     f"{links} ({py_spy.samples:,} samples)</li>")
    return ("<h2>Profiles</h2>\n<p>py-spy sampled the server in these trials' measured "
            "windows, on the server's cores: their figures bear its cost. A speedscope profile "
            'opens in <a href="https://www.speedscope.app/">speedscope</a>.</p>\n'
            f"<ul>{''.join(items)}</ul>\n")


def _self_check_row(trial: Trial, result: HttpResult) -> list[object]:
    """What the self-check said of a trial: the causes, and each one's figures (a version 1
    trial did not look for pauses or pushback)."""
    pauses, pushback = result.machine_pauses, result.server_pushback
    return [trial.cell.name, trial.round + 1, ", ".join(result.causes),
            "; ".join(result.generator.reasons) or "kept up",
            "not recorded" if pauses is None else
            f"{pauses.count} ({pauses.total_ms:,.0f} ms, longest "
            f"{pauses.longest_ms:,.0f} ms; {pauses.late_sends} sends late by them)",
            "not recorded" if pushback is None else
            f"{pushback.waited_for_connection:.1%} waited for a connection; "
            f"{pushback.writes_blocked} writes into a full socket"]


def build_report(run: Path) -> Path:
    """Write RUN/report/index.html (and its figures) and RUN/summary.md; return the page."""
    trials = RunStore(run).trials()
    if not trials:
        raise LoadgenError(f"no trials in {run}")
    baseline = run_baseline(trials)
    comparisons, left_out = compare(trials, baseline)
    summary = "\n\n".join(filter(None, [markdown(comparisons, left_out), cells_markdown(trials)]))
    (run / "summary.md").write_text(summary + "\n")
    out = run / "report"
    out.mkdir(exist_ok=True)
    sections = []
    for scenario, group in _by_scenario(trials).items():
        slug = scenario.replace("/", "_")
        parts = [f"<h2>Scenario {html.escape(scenario)}</h2>"]
        kinds = _kind_histograms(group)
        if kinds:
            plots.latency_by_percentile(kinds, f"{scenario}: latency by percentile",
                                        out / f"{slug}-latency.png")
            parts.append(_figure(f"{slug}-latency.png", f"{scenario} latency by percentile"))
        spread = _spread(group)
        if spread:
            plots.spread(spread, f"{scenario}: every round", out / f"{slug}-spread.png")
            parts.append(_figure(f"{slug}-spread.png", f"{scenario} spread over rounds"))
        mine = [c for c in comparisons if c.cell.split("/")[2] == scenario]
        if mine:
            plots.forest(mine, f"{scenario}: ratio to {baseline[0]}/{baseline[1]}, 95% CI",
                         out / f"{slug}-forest.png")
            parts.append(_figure(f"{slug}-forest.png", f"{scenario} ratios to the baseline"))
        timed = next(((t, r) for t in sorted(group, key=lambda t: t.round)
                      if isinstance(r := t.usable_result, HttpResult)
                      and (t.cell.target, t.cell.server) == baseline), None)
        if timed is not None:
            _timeline(timed[1], f"{timed[0].cell.name}, round {timed[0].round + 1}",
                      out / f"{slug}-timeline.png")
            parts.append(_figure(f"{slug}-timeline.png", f"{scenario} baseline over time"))
        for both in two_ways(group):
            parts.append(f"<h3>{html.escape(both.target)}: in process and at the socket</h3>"
                         + _table(both.headers(), both.rows())
                         + f"<p>Server CPU per request over the mix: "
                           f"{html.escape(both.cpu_text())}.</p>")
        checked = [_self_check_row(t, r) for t in group
                   if isinstance(r := t.result, HttpResult) and r.causes]
        if checked:
            parts.append("<h3>Self-check: trials where more than the server showed</h3>"
                         + _table(["cell", "round", "causes", "generator", "machine pauses",
                                   "server pushback"], checked))
        failed = [t for t in group if t.status != "ok"]
        if failed:
            parts.append(_table(["cell", "round", "status", "message"],
                                ([t.cell.name, t.round + 1, t.status, t.error or ""]
                                 for t in failed)))
        sections.append("\n".join(parts))
    first = trials[0]
    over_http = next((r for t in trials if isinstance(r := t.result, HttpResult)), None)
    environment = _table(["", ""], [
        *first.machine.to_json().items(),
        ("loadgen commit", f"{first.toolkit.commit}"
                           f"{' (with uncommitted changes)' if first.toolkit.dirty else ''}"),
        ("generator cores", list(over_http.generator.cpus) if over_http else ""),
        ("server cores", "" if over_http is None or over_http.server_cpus is None
         else list(over_http.server_cpus)),
    ])
    per_cell = {t.cell.name: t.packages for t in trials}
    shown = [name for name in PACKAGES if any(name in p for p in per_cell.values())]
    versions = _table(["cell", *shown], ([cell, *(p.get(name, "-") for name in shown)]
                                         for cell, p in sorted(per_cell.items())))
    level = level_text(comparisons[0].level) if comparisons else ""
    verdicts = _table(["cell", "metric", "ratio", f"{level} CI", "rounds", "noise", "verdict"], (
        [c.cell, f"{c.metric.name} (δ {c.metric.delta:.0%})",
         f"{c.ratio:.3f}" if c.ratio else "-",
         f"{c.low:.3f} to {c.high:.3f}" if c.low and c.high else "-", len(c.ratios),
         noise_text(c), verdict_text(c)]
        for c in comparisons))
    page = out / "index.html"
    page.write_text(f"""{_head(f"loadgen report {run.name}")}
<h1>loadgen bench {html.escape(run.name)}</h1>
<p>{len(trials)} trials, baseline {html.escape('/'.join(baseline))}; rebuilt from
{html.escape(str(run))} by <code>loadgen report</code>.</p>
<h2>Verdicts</h2>
{verdicts}
{''.join(f'<p>{html.escape(c)}: {n} trial(s) left out (failed, invalid or generator-bound)</p>'
         for c, n in sorted(left_out.items()))}
{''.join(sections)}
{_profiles(trials)}<h2>Environment</h2>
{environment}
<h3>Package versions of each cell's environment</h3>
{versions}
</body></html>
""")
    return page


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def build_history_report(home: Path, min_magnitude: float = MIN_MAGNITUDE) -> Path:
    """Write HOME/report/index.html: per scenario and request kind, each metric over the
    points with its interval and change points; the change points and their A/B verdicts."""
    points = known_points(home)
    done = trials(home)
    found = series(done, points, min_magnitude)
    kept = confirmed(home)
    out = home / "report"
    out.mkdir(parents=True, exist_ok=True)
    labels = [p.label for p in points]
    groups: dict[tuple[str, str], list[Series]] = defaultdict(list)
    for one in found:
        groups[(one.key, one.kind)].append(one)
    keys = list(dict.fromkeys(one.key for one in found))
    figures = []
    for (key, kind), panels in groups.items():
        first = panels[0]
        name = f"{_slug(first.scenario)}-{keys.index(key)}-{_slug(kind)}.png"
        title = f"{first.scenario} on {first.server}: {kind}"
        verdicts = {(entry.metric, entry.before, entry.after): entry.verdict
                    for entry in kept.values() if entry.scenario == first.scenario}
        plots.history(panels, labels, title, out / name, verdicts)
        figures.append(f"<h3>{html.escape(title)}</h3>{_figure(name, title)}")
    changes = _table(
        ["scenario", "metric", "between", "and", "size", "p", "A/B verdict"],
        ([one.scenario, one.metric.label, c.before.label, c.after.label, f"{c.magnitude:+.1%}",
          f"{c.p_value:.1e}",
          _verdict(kept.get((one.scenario, one.metric.label, c.before.key, c.after.key)))]
         for one in found for c in one.changes))
    failed = [t for t in done if t.status != "ok"]
    by_key = {p.key: p for p in points}
    page = out / "index.html"
    page.write_text(f"""{_head(f"loadgen history {home.name}")}
<h1>loadgen history of {html.escape(home.name)}</h1>
<p>{len(points)} points, {len(done)} trials; rebuilt from {html.escape(str(home))}. Each point is
the geometric mean of its trials, the band its 95% interval. A dashed line is a change
point (placed by a weighted step fit, kept when Welch's t-test between the two sides gives
p &lt; 0.001 and the step is at least {min_magnitude:.0%}, or the metric's δ where that is
smaller: 1% for instruction counts): red when worse, green when better.
A change point is a candidate until an interleaved A/B of its two sides confirms it
(<code>loadgen history --confirm</code>).</p>
<h2>Change points</h2>
{changes if any(one.changes for one in found) else "<p>None found.</p>"}
{_table(["point", "trial", "status", "message"],
        ([by_key[t.cell.target].label if t.cell.target in by_key else t.cell.target,
          t.cell.name, t.status, t.error or ""] for t in failed)) if failed else ""}
<h2>Series</h2>
{''.join(figures)}
<h2>Points</h2>
{_table(["point", "date", "commit subject or requirement"],
        ([p.label, p.date, p.title or p.requirement] for p in points))}
</body></html>
""")
    return page


def _verdict(entry: Confirmed | None) -> str:
    if entry is None:
        return "candidate (not confirmed)"
    if entry.ratio is None or entry.low is None or entry.high is None:
        return entry.verdict
    return (f"{entry.verdict}: ratio {entry.ratio:.3f} [{entry.low:.3f}, {entry.high:.3f}] "
            f"over {entry.rounds} rounds")
