"""The HTML reports, rebuilt from stored trials alone (nothing is measured): a bench run's
(RUN/report/index.html with its PNG figures, and RUN/summary.md with the verdict table) and a
history's (HISTORY/report/index.html)."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hdrh.histogram import HdrHistogram

from loadgen import histogram, history, plots
from loadgen.changepoints import MIN_MAGNITUDE
from loadgen.compare import compare, level_text, markdown, noise_text, usable, verdict_text
from loadgen.errors import LoadgenError
from loadgen.history import Series, known_points
from loadgen.store import RESULTS_DIR, RunStore

PACKAGES = ("starlette", "fastapi", "python-multipart", "uvicorn", "granian", "hypercorn",
            "daphne", "httptools", "uvloop", "anyio", "pydantic")


def latest_run(root: Path = RESULTS_DIR) -> Path:
    """The most recent run folder under results/MACHINE/."""
    runs = sorted((p for p in root.glob("*/*") if any(p.glob("trial-*.json"))),
                  key=lambda p: p.name)
    if not runs:
        raise LoadgenError(f"no bench run under {root}/: run `make bench` first")
    return runs[-1]


def _by_scenario(trials: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trial in trials:
        grouped[trial["cell"]["scenario"]].append(trial)
    return dict(sorted(grouped.items()))


def _kind_histograms(trials: list[dict[str, Any]]) -> dict[str, dict[str, HdrHistogram]]:
    """kind -> cell -> the cell's corrected histogram of that kind, merged over its rounds."""
    kinds: dict[str, dict[str, HdrHistogram]] = defaultdict(dict)
    for trial in filter(usable, trials):
        for kind, figures in trial["result"]["kinds"].items():
            if "histograms" not in figures:
                continue  # in process: no latencies
            merged = kinds[kind].setdefault(trial["cell"]["name"], histogram.new_histogram())
            merged.add(HdrHistogram.decode(figures["histograms"]["corrected"]))
    return {k: dict(sorted(v.items())) for k, v in kinds.items()}


# What the spread panels show of a result, by title; the figures a result lacks are left out.
SPREAD: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "throughput (req/s)": lambda r: r.get("throughput_rps"),
    "p99 (ms, corrected)":
        lambda r: r["latency_us"]["corrected"]["p99"] / 1000 if "latency_us" in r else None,
    "server CPU µs per request": lambda r: r.get("server_cpu_us_per_request"),
    "instructions per request (in process)": lambda r: r.get("instructions_per_request"),
    "µs per request (in process)": lambda r: r.get("us_per_request"),
}


def _spread(trials: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    closed = not any(t["result"]["profile"]["stages"] for t in filter(usable, trials))
    shown = [title for title in SPREAD
             if title != ("p99 (ms, corrected)" if closed else "throughput (req/s)")]
    values: dict[str, dict[str, list[float]]] = {title: {} for title in shown}
    for trial in sorted(trials, key=lambda t: t["cell"]["name"]):
        for title in shown:
            values[title].setdefault(trial["cell"]["name"], [])
            value = SPREAD[title](trial["result"]) if usable(trial) else None
            if value:
                values[title][trial["cell"]["name"]].append(value)
    return {title: cells for title, cells in values.items()
            if any(cells.values())}


def _timeline(trial: dict[str, Any], title: str, path: Path) -> None:
    result = trial["result"]
    series = result["series"]
    samples = result["server"]["samples"] if result.get("server") else []
    # The last sample comes right after the run: too short a span to give a CPU share.
    spans = [(a, b) for a, b in pairwise(samples) if b["at"] - a["at"] >= 0.5]
    plots.timeline([s["second"] for s in series], [s["requests"] for s in series],
                   [s["p99_us"] / 1000 for s in series], [b["at"] for _, b in spans],
                   [(b["cpu_s"] - a["cpu_s"]) / (b["at"] - a["at"]) for a, b in spans],
                   [b["rss_mb"] for _, b in spans], title, path)


def _table(headers: list[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(name: str, alt: str) -> str:
    return f'<figure><img src="{name}" alt="{html.escape(alt)}"></figure>'


def _profiles(trials: list[dict[str, Any]]) -> str:
    """Links to each profiled trial's py-spy files, which lie in the run folder."""
    profiled = sorted((t for t in trials if (t.get("result") or {}).get("profiled")),
                      key=lambda t: (t["cell"]["name"], t["round"]))
    if not profiled:
        return ""
    items = []
    for trial in profiled:
        py_spy = trial["result"]["py_spy"]
        links = ", ".join(f'<a href="../{quote(Path(py_spy[key]).name)}">{label}</a>'
                          for key, label in (("flamegraph", "flame graph"),
                                             ("speedscope", "speedscope profile")))
        items.append(f"<li>{html.escape(trial['cell']['name'])}, round {trial['round'] + 1}: "
                     f"{links} ({py_spy['samples']:,} samples)</li>")
    return ("<h2>Profiles</h2>\n<p>py-spy sampled the server in these trials' measured "
            "windows, on the server's cores: their figures bear its cost. A speedscope profile "
            'opens in <a href="https://www.speedscope.app/">speedscope</a>.</p>\n'
            f"<ul>{''.join(items)}</ul>\n")


def _self_check_row(trial: dict[str, Any]) -> list[object]:
    """What the self-check said of a trial: the causes, and each one's figures."""
    result = trial["result"]
    pauses, pushback = result["machine_pauses"], result["server_pushback"]
    return [trial["cell"]["name"], trial["round"] + 1, ", ".join(result["causes"]),
            "; ".join(result["generator"]["reasons"]) or "kept up",
            f"{pauses['count']} ({pauses['total_ms']:,.0f} ms, longest "
            f"{pauses['longest_ms']:,.0f} ms; {pauses['late_sends']} sends late by them)",
            f"{pushback['waited_for_connection']:.1%} waited for a connection; "
            f"{pushback['writes_blocked']} writes into a full socket"]


def build_report(run: Path) -> Path:
    """Write RUN/report/index.html (and its figures) and RUN/summary.md; return the page."""
    trials = RunStore(run).trials()
    if not trials:
        raise LoadgenError(f"no trials in {run}")
    baseline = (trials[0]["baseline"][0], trials[0]["baseline"][1])
    comparisons, left_out = compare(trials, baseline)
    summary = markdown(comparisons, left_out)
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
        first = next((t for t in sorted(group, key=lambda t: t["round"]) if usable(t)
                      and (t["cell"]["target"], t["cell"]["server"]) == baseline
                      and "series" in t["result"]), None)
        if first is not None:
            _timeline(first, f"{first['cell']['name']}, round {first['round'] + 1}",
                      out / f"{slug}-timeline.png")
            parts.append(_figure(f"{slug}-timeline.png", f"{scenario} baseline over time"))
        checked = [t for t in group if (t.get("result") or {}).get("causes")]
        if checked:
            parts.append("<h3>Self-check: trials where more than the server showed</h3>"
                         + _table(["cell", "round", "causes", "generator", "machine pauses",
                                   "server pushback"], map(_self_check_row, checked)))
        failed = [t for t in group if t["status"] != "ok"]
        if failed:
            parts.append(_table(["cell", "round", "status", "message"],
                                ([t["cell"]["name"], t["round"] + 1, t["status"],
                                  t.get("error", "")] for t in failed)))
        sections.append("\n".join(parts))
    first = trials[0]
    some_result: dict[str, Any] = next((t["result"] for t in trials if t.get("result")), {})
    environment = _table(["", ""], [
        *((k, v) for k, v in first["machine"].items()),
        ("loadgen commit", f"{first['toolkit']['commit']}"
                           f"{' (with uncommitted changes)' if first['toolkit']['dirty'] else ''}"),
        ("generator cores", some_result.get("generator", {}).get("cpus", "")),
        ("server cores", some_result.get("server_cpus", "")),
    ])
    per_cell = {t["cell"]["name"]: t.get("packages", {}) for t in trials}
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
    page.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadgen report {html.escape(run.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1400px; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 90%; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
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
    done = history.trials(home)
    found = history.series(done, points, min_magnitude)
    kept = history.confirmed(home)
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
        verdicts = {(metric, before, after): entry["verdict"]
                    for (scenario, metric, before, after), entry in kept.items()
                    if scenario == first.scenario}
        plots.history(panels, labels, title, out / name, verdicts)
        figures.append(f"<h3>{html.escape(title)}</h3>{_figure(name, title)}")
    changes = _table(
        ["scenario", "metric", "between", "and", "size", "p", "A/B verdict"],
        ([one.scenario, one.metric.label, c.before.label, c.after.label, f"{c.magnitude:+.1%}",
          f"{c.p_value:.1e}",
          _verdict(kept.get((one.scenario, one.metric.label, c.before.key, c.after.key)))]
         for one in found for c in one.changes))
    failed = [t for t in done if t["status"] != "ok"]
    by_key = {p.key: p for p in points}
    page = out / "index.html"
    page.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadgen history {html.escape(home.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1400px; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 90%; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>loadgen history of {html.escape(home.name)}</h1>
<p>{len(points)} points, {len(done)} trials; rebuilt from {html.escape(str(home))}. Each point is
the geometric mean of its trials, the band its 95% interval. A dashed line is a change
point (placed by a weighted step fit, kept when Welch's t-test between the two sides gives
p &lt; 0.001 and the step is at least {min_magnitude:.0%}): red when worse, green when better.
A change point is a candidate until an interleaved A/B of its two sides confirms it
(<code>loadgen history --confirm</code>).</p>
<h2>Change points</h2>
{changes if any(one.changes for one in found) else "<p>None found.</p>"}
{_table(["point", "trial", "status", "message"],
        ([by_key[t["cell"]["target"]].label if t["cell"]["target"] in by_key
          else t["cell"]["target"], t["cell"]["name"], t["status"], t.get("error", "")]
         for t in failed)) if failed else ""}
<h2>Series</h2>
{''.join(figures)}
<h2>Points</h2>
{_table(["point", "date", "commit subject or requirement"],
        ([p.label, p.date, p.title or p.requirement] for p in points))}
</body></html>
""")
    return page


def _verdict(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "candidate (not confirmed)"
    return (f"{entry['verdict']}: ratio {entry['ratio']:.3f} [{entry['low']:.3f}, "
            f"{entry['high']:.3f}] over {entry['rounds']} rounds" if entry["ratio"]
            else entry["verdict"])
