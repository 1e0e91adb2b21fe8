"""`loadgen ab`: a pull request's two commits measured side by side. The head is measured
against the base in an interleaved A/B per scenario (history.ab: paired trials over the wire;
on the callgrind server one round, for counts repeat), and the verdicts are written as a
Markdown table per request kind for a PR comment or $GITHUB_STEP_SUMMARY. The exit code is the
nightly job's: 0 no regression beyond δ, 1 a regression, 2 one not ruled out, 3 a harness error.
Both commits join the repository's history, as the nightly job's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadgen.analysis.compare import (
    REGRESSION,
    Comparison,
    answered,
    gate_code,
    level_text,
    verdict_text,
)
from loadgen.campaigns.history import ab, folder
from loadgen.campaigns.history_session import trial_line
from loadgen.campaigns.options import AbOptions
from loadgen.campaigns.points import points
from loadgen.campaigns.sweep import default_metrics, plan_sweep, verified
from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement
from loadgen.results.history import Point
from loadgen.results.metrics import REPEATS_WITHIN, Metric, metric
from loadgen.results.model import Trial
from loadgen.results.output import check_file, check_folder

HARNESS_ERROR = 3
VERDICTS = {0: "no regression beyond δ", 1: "REGRESSION",
            2: "inconclusive: a regression beyond δ is not ruled out",
            3: "nothing judged (a harness error, or only percentiles with too few samples)"}


@dataclass(frozen=True)
class AbResult:
    code: int  # as VERDICTS says
    base: Point
    head: Point
    server: str
    comparisons: tuple[Comparison, ...]
    failed: tuple[str, ...]  # each failed trial: its cell, and why
    home: Path  # the repository's history, where the trials are

    def summary(self) -> str:
        """The comparison in Markdown: the commits, the verdict, a row per metric and kind."""
        level = level_text(self.comparisons[0].level) if self.comparisons else "95%"
        rows = [f"| {c.cell.rsplit('/', 1)[1]} | {c.metric.label} (δ {c.metric.delta:.0%}) | "
                + (f"{c.ratio:.4f} | [{c.low:.4f}, {c.high:.4f}]"
                   if c.ratio is not None and c.low is not None and c.high is not None
                   else "- | -")
                + f" | {len(c.ratios)} | {_verdict(c)} |"
                for c in self.comparisons]
        return "\n".join([
            f"# loadgen ab: `{self.head.label}` against `{self.base.label}` on {self.server}",
            "", f"- base: `{self.base.label}` {self.base.title}",
            f"- head: `{self.head.label}` {self.head.title}",
            f"- verdict: **{VERDICTS[self.code]}** (exit {self.code})", "",
            "| scenario | metric | head / base | interval | rounds | verdict |",
            "| --- | --- | ---: | --- | ---: | --- |", *rows, "",
            f"Intervals: {level} confidence over the rounds; for instruction counts, which "
            f"repeat, the rounds' range widened by {REPEATS_WITHIN:.2%} a side.", "",
            *(f"- failed trial {line}" for line in self.failed),
            f"Trials: {self.home}", ""])


def _verdict(comparison: Comparison) -> str:
    text = verdict_text(comparison)
    return f"**{text}**" if comparison.verdict == REGRESSION else text


def chosen_metrics(options: AbOptions) -> tuple[Metric, ...]:
    """The metrics asked for, or the server's defaults (sweep.default_metrics)."""
    return tuple(metric(name) for name in options.metric_names
                 or default_metrics(options.server))


def run_ab(options: AbOptions, say: Callable[[str], None]) -> AbResult:
    """The A/B as asked: what it compares said first, each trial in a line as it ends."""
    check_folder(options.results_dir, "--results")
    if options.summary_path is not None:
        check_file(options.summary_path, "--summary")
    metrics = chosen_metrics(options)
    base, head = points(options.repository, f"{options.base},{options.head}")
    if base.key == head.key:
        raise LoadgenError(f"--base and --head are the same commit, {base.label}")
    plan = plan_sweep(options, options.repository, (base, head))
    placement = Placement.apart()
    home = folder(options.repository, options.results_dir)
    say(f"ab {head.label} against {base.label} on {plan.server.name}, "
        f"{', '.join(m.name for m in metrics)}; {plan.rounds} round(s) first, up to "
        f"{max(options.max_rounds, plan.rounds)}; {placement.cores_text}")

    def on_trial(trial: Trial, left_s: float) -> None:
        say(trial_line(trial))

    comparisons: list[Comparison] = []
    failed: list[str] = []
    for scenario in plan.scenarios:
        found, store = ab(plan, base, head, scenario, metrics, home, placement, on_trial,
                          options.max_rounds, answered)
        verified(options, store.trials())
        comparisons += found
        failed += [f"{t.cell.name}: {t.error or t.status}" for t in store.trials()
                   if t.status != "ok"]
    code = HARNESS_ERROR if failed else gate_code(comparisons)
    return AbResult(code, base, head, plan.server.name, tuple(comparisons), tuple(failed), home)
