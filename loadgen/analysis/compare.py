"""Statistical comparison of a bench run's cells against its baseline.

For each scenario, each cell is compared with the baseline cell of that scenario round by round
(the two ran in the same round, minutes apart; or, paired, in one trial, loaded in turns: see
loadgen.measure.trial): the per-round ratios cell/baseline of a metric
are summarised by their geometric mean, with a 95% confidence interval over rounds (bootstrap,
widened to Student's t where that is wider: with few rounds it is).
The verdict needs the whole interval on one side: a regression is an interval wholly beyond
the threshold δ in the bad direction, "no change" one wholly inside ±δ, anything else is
inconclusive (run more rounds). Invalid and generator-bound trials are left out and counted.

A deterministic metric (instruction counts) needs no interval over rounds: its range over the
rounds, widened by what two counts of the same code may differ by (REPEATS_WITHIN), decides
from one round.

A percentile is judged only where every trial had MIN_TAIL_SAMPLES samples beyond it; else its
verdict is "too few samples". A comparison that may be looked at again after more rounds is
judged at a level split over the looks (Bonferroni over a capped number of looks, the
conservative bound of group sequential methods: Jennison and Turnbull, 2000), and the rounds to
add are estimated from the per-round spread seen so far (rounds_needed).

The metrics and how each is read from a result are loadgen.results.metrics; the interval
statistics, loadgen.analysis.intervals.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace

from loadgen.analysis.intervals import ALPHA, bootstrap_interval, t_quantile
from loadgen.results.figures import HttpResult, KindStats, Result
from loadgen.results.metrics import METRICS, REPEATS_WITHIN, Metric
from loadgen.results.model import Cell, Trial

MAX_LOOKS = 3  # the cap on looks of a comparison that gets more rounds while undecided
# A percentile is judged only when every trial had this many samples beyond it: the p99 of 50
# requests is the slowest one, and a p99 of 700 samples (the 7th-largest) moved by tens of
# percent between identical trials here.
MIN_TAIL_SAMPLES = 20


REGRESSION, IMPROVEMENT, NO_CHANGE, INCONCLUSIVE, TOO_FEW = (
    "regression", "improvement", "no change", "inconclusive", "too few samples")


@dataclass(frozen=True)
class Comparison:
    cell: str
    baseline: str
    metric: Metric
    ratios: tuple[float, ...]
    ratio: float | None  # geometric mean of the per-round ratios cell/baseline
    low: float | None
    high: float | None
    verdict: str
    level: float = 1 - ALPHA  # the interval's confidence
    fewest: int | None = None  # too few samples: the fewest a trial took the percentile over

    @property
    def spread(self) -> float | None:
        """The noise of one round: the standard deviation of the log ratios."""
        return statistics.stdev(map(math.log, self.ratios)) if len(self.ratios) > 1 else None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width, in log ratio."""
        if self.low is None or self.high is None:
            return None
        return (math.log(self.high) - math.log(self.low)) / 2


def look_level(looks: int) -> float:
    """The confidence of each look when a comparison may be looked at up to `looks` times
    (Bonferroni over the looks): the chance that any look calls a change that is not there
    stays at most ALPHA."""
    return 1 - ALPHA / looks


def rounds_needed(comparison: Comparison) -> int | None:
    """The rounds in all after which the interval's half-width should be about δ/2, from the
    per-round spread s seen so far: n = (t·s / ln(1 + δ/2))², t at the comparison's level and
    its rounds so far (t falls as rounds are added, so this errs long). None without a spread
    (fewer than two rounds: nothing to estimate from)."""
    spread = comparison.spread
    if spread is None:
        return None
    target = math.log(1 + comparison.metric.delta / 2)
    return math.ceil((t_quantile(comparison.level, len(comparison.ratios)) * spread / target) ** 2)


def could_decide(comparison: Comparison, rounds: int) -> bool:
    """Whether `rounds` rounds in all could decide it, were its ratio and spread to stay as
    seen: its interval's half-width would have to shrink below the distance from its ratio to
    the nearest edge of ±δ. A ratio on the edge never decides; nor, in a short budget, does
    a p99 whose rounds spread by ±30%."""
    if comparison.spread is None or comparison.ratio is None or rounds < 2:
        return False
    margin = abs(abs(math.log(comparison.ratio)) - math.log(1 + comparison.metric.delta))
    return t_quantile(comparison.level, rounds) * comparison.spread / math.sqrt(rounds) < margin


def extra_rounds(undecided: Iterable[Comparison]) -> int:
    """How many rounds the next look should add so that the noisiest of these comparisons can
    decide (at least one); 0 when none has a spread to estimate from."""
    wanted = [n - len(c.ratios) for c in undecided if (n := rounds_needed(c)) is not None]
    return max(1, *wanted) if wanted else 0


def too_few_samples(chosen: Metric, results: Iterable[Result]) -> int | None:
    """The fewest samples a trial took `chosen` over, when some trial had fewer than
    MIN_TAIL_SAMPLES beyond its percentile; None when every trial had enough (or `chosen` is
    not a percentile: throughput and CPU per request are totals over the whole trial)."""
    if chosen.percentile is None:
        return None
    counts = [figures.requests for r in results if chosen.value(r)
              and isinstance(figures := chosen.figures(r), HttpResult | KindStats)]
    fewest = min(counts, default=None)
    # Rounded: 20,000 samples are 20 beyond p99.9, which floating point makes 19.99999.
    if fewest is None or round(fewest * (100 - chosen.percentile) / 100, 6) >= MIN_TAIL_SAMPLES:
        return None
    return fewest


def _worse(metric: Metric, low: float, high: float) -> tuple[float, float]:
    """The interval as "how many times worse": above 1 is worse, whichever way the metric
    points."""
    return (1 / high, 1 / low) if metric.higher_is_better else (low, high)


def verdict(metric: Metric, low: float, high: float) -> str:
    worse_low, worse_high = _worse(metric, low, high)
    if worse_low > 1 + metric.delta:
        return REGRESSION
    if worse_high < 1 - metric.delta:
        return IMPROVEMENT
    if 1 - metric.delta <= worse_low and worse_high <= 1 + metric.delta:
        return NO_CHANGE
    return INCONCLUSIVE


# (round, pair) -> result of one cell. A paired trial (bench.run_pair) names the cell it was
# for in both its documents: a cell's half meets the baseline half beside it, and unpaired
# trials ("") meet by round.
Rounds = dict[tuple[int, str], Result]


def _usable_by_cell(trials: Iterable[Trial]) -> tuple[
        dict[str, Rounds], dict[str, Cell], dict[str, int]]:
    """Per cell: its usable results by round, its description, and how many were left out."""
    rounds: dict[str, Rounds] = {}
    cells: dict[str, Cell] = {}
    left_out: dict[str, int] = {}
    for trial in trials:
        if trial.status == "skipped":  # never measured: nothing was left out
            continue
        name = trial.cell.name
        cells[name] = trial.cell
        rounds.setdefault(name, {})
        if (result := trial.usable_result) is not None:
            rounds[name][trial.round, trial.pair or ""] = result
        else:
            left_out[name] = left_out.get(name, 0) + 1
    return rounds, cells, left_out


def _per_kind(metrics: tuple[Metric, ...], kinds: Iterable[str]) -> list[Metric]:
    """The metrics, each one compared per request kind (Metric.each_kind: the in-process ones)
    followed by its copy for every request kind."""
    expanded = []
    for one in metrics:
        expanded.append(one)
        if one.each_kind and one.kind is None:
            expanded += [replace(one, kind=kind) for kind in kinds]
    return expanded


def _compare_pair(name: str, base: str, ours: Rounds, theirs: Rounds,
                  metrics: tuple[Metric, ...], level: float) -> list[Comparison]:
    """`ours` against `theirs` round by round, for every metric that applies."""
    kinds = dict.fromkeys(kind for result in theirs.values() for kind in result.kinds)
    comparisons = []
    for metric in _per_kind(metrics, kinds):
        if not any(map(metric.value, [*ours.values(), *theirs.values()])):
            continue  # a figure this kind of trial does not have, or throughput in open loop
        paired = {r: mine / other for r in sorted(set(ours) & set(theirs))
                  if (mine := metric.value(ours[r])) and (other := metric.value(theirs[r]))}
        ratios = tuple(paired.values())
        none = Comparison(name, base, metric, ratios, None, None, None, INCONCLUSIVE, level)
        fewest = too_few_samples(metric, [result for r in paired
                                          for result in (ours[r], theirs[r])])
        if fewest is not None:
            comparisons.append(replace(none, verdict=TOO_FEW, fewest=fewest))
        elif metric.deterministic and ratios:
            comparisons.append(_exact(none, ratios))
        elif len(ratios) < 2:
            comparisons.append(none)
        else:
            ratio, low, high = bootstrap_interval(list(ratios), level=level)
            comparisons.append(replace(none, ratio=ratio, low=low, high=high,
                                       verdict=verdict(metric, low, high)))
    return comparisons


def _exact(none: Comparison, ratios: tuple[float, ...]) -> Comparison:
    """A deterministic metric's comparison: its ratios' range, widened by what two
    measurements of the same code may differ by on each side. One round decides it; rounds
    that disagree widen it as far as they disagree."""
    slack = (1 + REPEATS_WITHIN) ** 2
    low, high = min(ratios) / slack, max(ratios) * slack
    ratio = math.exp(statistics.fmean(map(math.log, ratios)))
    return replace(none, ratio=ratio, low=low, high=high,
                   verdict=verdict(none.metric, low, high))


def unrepeated(trials: Iterable[Trial]) -> list[str]:
    """Where two trials of one cell gave a deterministic metric (over the mix, or of a request
    kind) more than REPEATS_WITHIN apart: what `--verify` refuses. Counts of one build repeat;
    two that do not say the measurement is broken, not the build."""
    by_cell: dict[str, list[Result]] = {}
    for trial in trials:
        if (result := trial.usable_result) is not None:
            by_cell.setdefault(f"{trial.cell.name} {trial.cell.series_key}", []).append(result)
    problems = []
    for key, results in sorted(by_cell.items()):
        kinds = dict.fromkeys(kind for result in results for kind in result.kinds)
        for one in _per_kind(tuple(m for m in METRICS if m.deterministic), kinds):
            values = [v for result in results if (v := one.value(result))]
            if len(values) > 1 and max(values) / min(values) - 1 > REPEATS_WITHIN:
                problems.append(f"{key.split(' ', 1)[0]} {one.label}: {min(values):,.1f} and "
                                f"{max(values):,.1f}, {max(values) / min(values) - 1:.3%} apart")
    return problems


def planned_level(trials: Iterable[Trial]) -> float:
    """The confidence its verdicts were planned at: a run that may add rounds while undecided
    records its cap on looks in every trial (`looks`), and each look has its share of ALPHA."""
    return look_level(max((t.looks for t in trials), default=1))


def compare(trials: Iterable[Trial], baseline: tuple[str, str],
            metrics: tuple[Metric, ...] = METRICS, level: float | None = None
            ) -> tuple[list[Comparison], dict[str, int]]:
    """Every non-baseline cell against the baseline cell of its scenario, per metric; and how
    many trials of each cell were left out as unusable. `level`: each interval's confidence,
    by default the one the run planned (planned_level)."""
    trials = list(trials)
    chosen = planned_level(trials) if level is None else level
    rounds, cells, left_out = _usable_by_cell(trials)
    comparisons = []
    for name, cell in sorted(cells.items(), key=lambda item: (item[1].scenario, item[0])):
        if (cell.target, cell.server) == baseline:
            continue
        base = f"{baseline[0]}/{baseline[1]}/{cell.scenario}"
        comparisons += _compare_pair(name, base, rounds[name], rounds.get(base, {}), metrics,
                                     chosen)
    return comparisons, left_out


def compare_runs(before: Iterable[Trial], after: Iterable[Trial],
                 metrics: tuple[Metric, ...] = METRICS) -> tuple[
        list[Comparison], dict[str, int]]:
    """Each cell of `after` against the same cell of `before`, round i against round i. The
    two runs were not interleaved, so drift between them shows as a change: prefer one run."""
    before, after = list(before), list(after)
    level = planned_level([*before, *after])
    old, _, old_left = _usable_by_cell(before)
    new, cells, new_left = _usable_by_cell(after)
    comparisons = []
    for name in sorted(cells, key=lambda n: (cells[n].scenario, n)):
        if name in old:
            comparisons += _compare_pair(name, f"before:{name}", new[name], old[name], metrics,
                                         level)
    left_out = {f"before:{k}": v for k, v in old_left.items()} | new_left
    return comparisons, left_out


def regressed(comparison: Comparison) -> bool | None:
    """The one-sided question a gate asks (bisect, the nightly job): True when the whole
    interval is worse than δ, False when none of it is (no change, better, or a change too small
    to count), None when it straddles 1 + δ: run more rounds."""
    if comparison.low is None or comparison.high is None:
        return None
    worse_low, worse_high = _worse(comparison.metric, comparison.low, comparison.high)
    if worse_low > 1 + comparison.metric.delta:
        return True
    return False if worse_high <= 1 + comparison.metric.delta else None


def answered(comparison: Comparison) -> bool:
    """Whether a gate is done with this comparison: regressed or ruled out, or a percentile with
    too few samples, which more rounds of the same trials would not give."""
    return comparison.verdict == TOO_FEW or regressed(comparison) is not None


def _judged(comparisons: list[Comparison]) -> list[Comparison]:
    # "Too few samples" is set aside like a metric that does not apply: it says nothing about
    # a regression either way. The tables still show it.
    return [c for c in comparisons if c.verdict != TOO_FEW]


def gate_code(comparisons: list[Comparison]) -> int:
    """The nightly job's exit code: 1 a confirmed regression, 2 none confirmed but one not
    ruled out, 0 every regression ruled out, 3 nothing to judge (no comparison, or only
    percentiles with too few samples)."""
    judged = _judged(comparisons)
    if not judged:
        return 3
    answers = {regressed(c) for c in judged}
    return 1 if True in answers else 2 if None in answers else 0


def exit_code(comparisons: list[Comparison]) -> int:
    """0 no regression, 1 a confirmed regression, 2 inconclusive somewhere, 3 nothing to
    compare (a harness problem, never mistaken for a regression; only percentiles with too few
    samples count as nothing)."""
    judged = _judged(comparisons)
    if not judged:
        return 3
    verdicts = {c.verdict for c in judged}
    if REGRESSION in verdicts:
        return 1
    return 2 if INCONCLUSIVE in verdicts else 0


def verdict_text(comparison: Comparison) -> str:
    """The verdict as the tables print it."""
    if comparison.verdict == TOO_FEW:
        return f"{TOO_FEW} (n={comparison.fewest})"
    return comparison.verdict


def _percent(log_ratio: float) -> str:
    return f"±{math.exp(log_ratio) - 1:.1%}"


def noise_text(comparison: Comparison) -> str:
    """The noise a comparison saw: the spread of one round, and the interval's half-width."""
    spread, half = comparison.spread, comparison.half_width
    if spread is None:
        return "-"
    return f"{_percent(spread)} a round" + (f", CI {_percent(half)}" if half is not None else "")


def level_text(level: float) -> str:
    return f"{level * 100:.3g}%"


def markdown(comparisons: list[Comparison], left_out: dict[str, int]) -> str:
    """The verdict table, for a terminal, a CI log or $GITHUB_STEP_SUMMARY."""
    level = comparisons[0].level if comparisons else 1 - ALPHA
    lines = [f"| cell | vs | metric | ratio | {level_text(level)} CI | rounds | noise | verdict |",
             "| --- | --- | --- | ---: | --- | ---: | --- | --- |"]
    for c in comparisons:
        ratio = f"{c.ratio:.3f}" if c.ratio is not None else "-"
        interval = f"[{c.low:.3f}, {c.high:.3f}]" if c.low is not None and c.high is not None \
            else "-"
        lines.append(f"| {c.cell} | {c.baseline.rsplit('/', 1)[0]} "
                     f"| {c.metric.label} (δ {c.metric.delta:.0%}) | {ratio} | {interval} | "
                     f"{len(c.ratios)} | {noise_text(c)} | {verdict_text(c)} |")
    for cell, count in sorted(left_out.items()):
        lines.append(f"\n{cell}: {count} trial(s) left out (failed, invalid or generator-bound)")
    return "\n".join(lines)
