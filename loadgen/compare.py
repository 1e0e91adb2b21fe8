"""Statistical comparison of a bench run's cells against its baseline.

For each scenario, each cell is compared with the baseline cell of that scenario round by round
(the two ran in the same round, minutes apart): the per-round ratios cell/baseline of a metric
are summarised by their geometric mean, with a 95% confidence interval over rounds (bootstrap,
widened to Student's t where that is wider: with few rounds it is).
The verdict needs the whole interval on one side: a regression is an interval wholly beyond
the threshold δ in the bad direction, "no change" one wholly inside ±δ, anything else is
inconclusive (run more rounds). Invalid and generator-bound trials are left out and counted.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from loadgen.errors import LoadgenError

BOOTSTRAP_SAMPLES = 4000


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    delta: float  # the smallest change that counts
    kind: str | None = None  # one request kind's latency, or the whole run's figures

    @property
    def label(self) -> str:
        return self.name if self.kind is None else f"{self.name} [{self.kind}]"

    def value(self, result: dict[str, Any]) -> float | None:
        """The figure in one trial's result; None where that kind of trial has none (an
        in-process trial has no latency, a run over HTTP no instruction count)."""
        figures = result if self.kind is None else result["kinds"].get(self.kind, {})
        if self.name in PER_REQUEST:
            value = figures.get(PER_REQUEST[self.name])
        elif self.name == "throughput":
            value = figures.get("throughput_rps")
        else:
            value = figures.get("latency_us", {}).get("corrected", {}).get(self.name)
        return float(value) if value else None


# The figures of a whole trial, or of one request kind in process, named in the result.
PER_REQUEST = {"cpu_per_request": "server_cpu_us_per_request",
               "instructions": "instructions_per_request",
               "inproc_us": "us_per_request"}


METRICS = (
    Metric("throughput", True, 0.05),
    Metric("p50", False, 0.10),
    Metric("p99", False, 0.10),
    Metric("p999", False, 0.10),
    Metric("cpu_per_request", False, 0.05),
    # In process (loadgen inproc, or the inproc and callgrind servers of a bench): per request
    # kind as well as over the mix. Instruction counts repeat exactly, so 1% is a real change.
    Metric("instructions", False, 0.01),
    Metric("inproc_us", False, 0.05),
)

REGRESSION, IMPROVEMENT, NO_CHANGE, INCONCLUSIVE = (
    "regression", "improvement", "no change", "inconclusive")


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


def bootstrap_interval(ratios: list[float], seed: int = 0) -> tuple[float, float, float]:
    """(geometric mean, low, high): a 95% interval of the geometric mean of the ratios, the
    wider of the bootstrap percentile interval over resampled rounds and Student's t interval
    of the mean log ratio. The percentile bootstrap alone is far too narrow with few rounds (at
    three it is about [min, max], and an A/A comparison was seen to call a 5% regression); the
    t interval alone trusts normality the bootstrap does not need."""
    # Imported here: scipy takes a second to import, which `loadgen run` has no use for.
    from scipy.stats import t as student_t

    logs = [math.log(r) for r in ratios]
    if len(logs) < 2:
        return ratios[0], ratios[0], ratios[0]  # one value: no interval to speak of
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(logs, k=len(logs)))
                   for _ in range(BOOTSTRAP_SAMPLES))
    center = statistics.fmean(logs)
    spread = student_t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    low = min(means[int(0.025 * (BOOTSTRAP_SAMPLES - 1))], center - spread)
    high = max(means[int(0.975 * (BOOTSTRAP_SAMPLES - 1))], center + spread)
    return math.exp(center), math.exp(low), math.exp(high)


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


def usable(trial: dict[str, Any]) -> bool:
    """A trial that measured correct answers without the generator being the limit."""
    result = trial.get("result")
    return (trial.get("status") == "ok" and result is not None and result["valid"]
            and not result["generator_bound"])


Rounds = dict[int, dict[str, Any]]  # round -> result of one cell


def _usable_by_cell(trials: Iterable[dict[str, Any]]) -> tuple[
        dict[str, Rounds], dict[str, dict[str, Any]], dict[str, int]]:
    """Per cell: its usable results by round, its description, and how many were left out."""
    rounds: dict[str, Rounds] = {}
    cells: dict[str, dict[str, Any]] = {}
    left_out: dict[str, int] = {}
    for trial in trials:
        name = trial["cell"]["name"]
        cells[name] = trial["cell"]
        rounds.setdefault(name, {})
        if usable(trial):
            rounds[name][trial["round"]] = trial["result"]
        else:
            left_out[name] = left_out.get(name, 0) + 1
    return rounds, cells, left_out


LATENCIES = ("p50", "p99", "p999")
IN_PROCESS = ("instructions", "inproc_us")  # compared per request kind as well


def metric(name: str, kind: str | None = None) -> Metric:
    """The metric NAME with its default threshold, of one request kind (latencies and the
    in-process figures) or of the whole run."""
    found = next((m for m in METRICS if m.name == name), None)
    if found is None:
        raise LoadgenError(f"no metric {name!r}; the metrics are "
                           f"{', '.join(m.name for m in METRICS)}")
    if kind is not None and name not in (*LATENCIES, *IN_PROCESS):
        raise LoadgenError(f"{name} is measured for the whole run, not per request kind")
    return replace(found, kind=kind)


def with_deltas(deltas: dict[str, float]) -> tuple[Metric, ...]:
    """The metrics with some thresholds changed, e.g. {"p99": 0.2}."""
    for name in deltas:
        metric(name)  # an unknown name fails here
    return tuple(replace(m, delta=deltas.get(m.name, m.delta)) for m in METRICS)


def _per_kind(metrics: tuple[Metric, ...], kinds: Iterable[str]) -> list[Metric]:
    """The metrics, each in-process one followed by its copy for every request kind."""
    expanded = []
    for one in metrics:
        expanded.append(one)
        if one.name in IN_PROCESS and one.kind is None:
            expanded += [replace(one, kind=kind) for kind in kinds]
    return expanded


def _compare_pair(name: str, base: str, ours: Rounds, theirs: Rounds,
                  metrics: tuple[Metric, ...]) -> list[Comparison]:
    """`ours` against `theirs` round by round, for every metric that applies."""
    open_loop = any(bool(result["profile"]["stages"]) for result in theirs.values())
    kinds = dict.fromkeys(kind for result in theirs.values() for kind in result["kinds"])
    comparisons = []
    for metric in _per_kind(metrics, kinds):
        if metric.name == "throughput" and open_loop:
            continue  # the schedule sets it: equal by construction
        if not any(map(metric.value, [*ours.values(), *theirs.values()])):
            continue  # a figure this kind of trial does not have
        ratios = []
        for r in sorted(set(ours) & set(theirs)):
            mine, other = metric.value(ours[r]), metric.value(theirs[r])
            if mine and other:
                ratios.append(mine / other)
        if len(ratios) < 2:
            comparisons.append(Comparison(name, base, metric, tuple(ratios), None, None, None,
                                          INCONCLUSIVE))
            continue
        ratio, low, high = bootstrap_interval(ratios)
        comparisons.append(Comparison(name, base, metric, tuple(ratios), ratio, low, high,
                                      verdict(metric, low, high)))
    return comparisons


def compare(trials: Iterable[dict[str, Any]], baseline: tuple[str, str],
            metrics: tuple[Metric, ...] = METRICS) -> tuple[list[Comparison], dict[str, int]]:
    """Every non-baseline cell against the baseline cell of its scenario, per metric; and how
    many trials of each cell were left out as unusable."""
    rounds, cells, left_out = _usable_by_cell(trials)
    comparisons = []
    for name, cell in sorted(cells.items(), key=lambda item: (item[1]["scenario"], item[0])):
        if (cell["target"], cell["server"]) == baseline:
            continue
        base = f"{baseline[0]}/{baseline[1]}/{cell['scenario']}"
        comparisons += _compare_pair(name, base, rounds[name], rounds.get(base, {}), metrics)
    return comparisons, left_out


def compare_runs(before: Iterable[dict[str, Any]], after: Iterable[dict[str, Any]],
                 metrics: tuple[Metric, ...] = METRICS) -> tuple[
        list[Comparison], dict[str, int]]:
    """Each cell of `after` against the same cell of `before`, round i against round i. The
    two runs were not interleaved, so drift between them shows as a change: prefer one run."""
    old, _, old_left = _usable_by_cell(before)
    new, cells, new_left = _usable_by_cell(after)
    comparisons = []
    for name in sorted(cells, key=lambda n: (cells[n]["scenario"], n)):
        if name in old:
            comparisons += _compare_pair(name, f"before:{name}", new[name], old[name], metrics)
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


def gate_code(comparisons: list[Comparison]) -> int:
    """The nightly job's exit code: 1 a confirmed regression, 2 none confirmed but one not
    ruled out, 0 every regression ruled out, 3 nothing to judge."""
    if not comparisons:
        return 3
    answers = {regressed(c) for c in comparisons}
    return 1 if True in answers else 2 if None in answers else 0


def exit_code(comparisons: list[Comparison]) -> int:
    """0 no regression, 1 a confirmed regression, 2 inconclusive somewhere, 3 nothing to
    compare (a harness problem, never mistaken for a regression)."""
    if not comparisons:
        return 3
    verdicts = {c.verdict for c in comparisons}
    if REGRESSION in verdicts:
        return 1
    return 2 if INCONCLUSIVE in verdicts else 0


def markdown(comparisons: list[Comparison], left_out: dict[str, int]) -> str:
    """The verdict table, for a terminal, a CI log or $GITHUB_STEP_SUMMARY."""
    lines = ["| cell | vs | metric | ratio | 95% CI | rounds | verdict |",
             "| --- | --- | --- | ---: | --- | ---: | --- |"]
    for c in comparisons:
        ratio = f"{c.ratio:.3f}" if c.ratio is not None else "-"
        interval = f"[{c.low:.3f}, {c.high:.3f}]" if c.low is not None and c.high is not None \
            else "-"
        lines.append(f"| {c.cell} | {c.baseline.rsplit('/', 1)[0]} "
                     f"| {c.metric.label} (δ {c.metric.delta:.0%}) | {ratio} | {interval} | "
                     f"{len(c.ratios)} | {c.verdict} |")
    for cell, count in sorted(left_out.items()):
        lines.append(f"\n{cell}: {count} trial(s) left out (failed, invalid or generator-bound)")
    return "\n".join(lines)
