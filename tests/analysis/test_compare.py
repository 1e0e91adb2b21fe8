"""The comparison's statistics and verdicts, from hand-made trials."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from loadgen.analysis.compare import (
    INCONCLUSIVE,
    NO_CHANGE,
    REGRESSION,
    TOO_FEW,
    Comparison,
    answered,
    compare,
    compare_runs,
    could_decide,
    exit_code,
    extra_rounds,
    gate_code,
    look_level,
    markdown,
    planned_level,
    regressed,
    rounds_needed,
    too_few_samples,
    unrepeated,
    verdict,
)
from loadgen.analysis.intervals import bootstrap_interval
from loadgen.errors import LoadgenError
from loadgen.results.figures import HttpResult
from loadgen.results.metrics import METRICS, REPEATS_WITHIN, metric, with_deltas
from loadgen.results.model import Trial
from tests.conftest import DATA_DIR
from tests.trials import result_json, trial

THROUGHPUT, P50, _, _, CPU, *_ = METRICS


def noisy(target: str, cpu: float, rounds: int, seed: int, noise: float = 0.02
          ) -> list[Trial]:
    rng = random.Random(seed)
    return [trial(target, r, cpu * (1 + rng.uniform(-noise, noise))) for r in range(rounds)]


def by_metric(comparisons: list[Any], cell: str, name: str) -> Any:
    return next(c for c in comparisons if c.cell == cell and c.metric.name == name)


def test_verdicts_need_the_whole_interval() -> None:
    assert verdict(CPU, 1.08, 1.20) == REGRESSION
    assert verdict(CPU, 0.98, 1.03) == NO_CHANGE
    assert verdict(CPU, 0.99, 1.08) == INCONCLUSIVE
    assert verdict(CPU, 0.80, 0.90) == "improvement"
    # Throughput: higher is better, so a drop is the regression.
    assert verdict(THROUGHPUT, 0.80, 0.90) == REGRESSION
    assert verdict(THROUGHPUT, 1.10, 1.20) == "improvement"


def test_bootstrap_interval_brackets_the_geometric_mean() -> None:
    ratio, low, high = bootstrap_interval([1.0, 1.1, 1.2, 0.9, 1.05])
    assert low < ratio < high
    assert ratio == pytest.approx((1.0 * 1.1 * 1.2 * 0.9 * 1.05) ** 0.2)
    assert bootstrap_interval([1.0, 1.1, 1.2]) == bootstrap_interval([1.0, 1.1, 1.2])


def test_three_rounds_that_agree_by_chance_are_not_a_verdict() -> None:
    # Seen on CI in an A/A bench: three CPU ratios all above 1.05. The percentile bootstrap
    # of three values spans about their range and called it a regression; Student's t does not.
    _, low, high = bootstrap_interval([1.06, 1.08, 1.13])
    assert low < 1.05 < high
    assert verdict(CPU, low, high) == INCONCLUSIVE


def test_a_against_itself_is_no_regression_and_slower_is() -> None:
    trials = noisy("a", 50, 8, 1) + noisy("b", 50, 8, 2) + noisy("slow", 80, 8, 3)
    comparisons, left_out = compare(trials, ("a", "uvicorn"))
    assert by_metric(comparisons, "b/uvicorn/plaintext", "cpu_per_request").verdict == NO_CHANGE
    slow = by_metric(comparisons, "slow/uvicorn/plaintext", "cpu_per_request")
    assert slow.verdict == REGRESSION and slow.ratio == pytest.approx(1.6, rel=0.05)
    assert exit_code(comparisons) == 1
    assert left_out == {}
    assert "| slow/uvicorn/plaintext | a/uvicorn | cpu_per_request (δ 5%) | 1.59" in \
        markdown(comparisons, left_out)


def test_unusable_trials_are_left_out_and_counted() -> None:
    trials = noisy("a", 50, 4, 1) + noisy("b", 50, 4, 2)
    trials[5] = replace(trials[5], result=replace(trials[5].result, valid=False))
    trials[6] = replace(trials[6], status="failed")
    comparisons, left_out = compare(trials, ("a", "uvicorn"))
    assert left_out == {"b/uvicorn/plaintext": 2}
    assert len(by_metric(comparisons, "b/uvicorn/plaintext", "p50").ratios) == 2


def test_too_few_rounds_is_inconclusive_and_nothing_is_a_harness_error() -> None:
    comparisons, _ = compare(noisy("a", 50, 1, 1) + noisy("b", 50, 1, 2), ("a", "uvicorn"))
    assert {c.verdict for c in comparisons} == {INCONCLUSIVE}
    assert exit_code(comparisons) == 2
    assert exit_code([]) == 3


def test_two_runs_compare_cell_by_cell() -> None:
    before = noisy("a", 50, 5, 1) + noisy("b", 50, 5, 2)
    after = noisy("a", 51, 5, 3) + noisy("b", 75, 5, 4)
    comparisons, _ = compare_runs(before, after)
    assert by_metric(comparisons, "a/uvicorn/plaintext", "cpu_per_request").verdict == NO_CHANGE
    b = by_metric(comparisons, "b/uvicorn/plaintext", "cpu_per_request")
    assert b.verdict == REGRESSION and b.baseline == "before:b/uvicorn/plaintext"


def test_thresholds_are_configurable() -> None:
    trials = noisy("a", 50, 6, 1) + noisy("b", 54, 6, 2, noise=0.005)
    default, _ = compare(trials, ("a", "uvicorn"))
    assert by_metric(default, "b/uvicorn/plaintext", "cpu_per_request").verdict == REGRESSION
    loose, _ = compare(trials, ("a", "uvicorn"), with_deltas({"cpu_per_request": 0.2}))
    assert by_metric(loose, "b/uvicorn/plaintext", "cpu_per_request").verdict == NO_CHANGE
    with pytest.raises(LoadgenError, match="no metric 'p95'"):
        with_deltas({"p95": 0.1})


def judged(low: float, high: float, chosen: Any = CPU) -> Comparison:
    return Comparison("b", "a", chosen, (low, high), (low * high) ** 0.5, low, high,
                      verdict(chosen, low, high))


def test_a_gate_asks_only_whether_it_got_worse_than_delta() -> None:
    assert regressed(judged(1.08, 1.20)) is True
    assert regressed(judged(0.84, 1.01)) is False  # inconclusive two-sided, yet no regression
    assert regressed(judged(0.99, 1.08)) is None  # straddles 1 + δ: run more
    assert regressed(judged(1.05, 1.20, THROUGHPUT)) is False  # faster is never a regression
    assert regressed(judged(0.80, 0.90, THROUGHPUT)) is True
    assert gate_code([judged(0.9, 1.0), judged(1.08, 1.2)]) == 1
    assert gate_code([judged(0.9, 1.0), judged(0.99, 1.08)]) == 2
    assert gate_code([judged(0.9, 1.0)]) == 0
    assert gate_code([]) == 3


def test_a_latency_metric_of_one_request_kind() -> None:
    document = result_json(kinds={"/b": (1000, 250)})
    document["latency_us"]["corrected"]["p50"] = 100
    figures = HttpResult.from_json(document)
    assert metric("p50", "/b").value(figures) == 250
    assert metric("p50", "/b").label == "p50 [/b]"
    assert metric("p50", "/c").value(figures) is None
    assert metric("p50").value(figures) == 100
    with pytest.raises(LoadgenError, match="measured for the whole run"):
        metric("cpu_per_request", "/b")


def test_a_percentile_needs_twenty_samples_beyond_it_in_every_trial() -> None:
    p99, p999 = metric("p99"), metric("p999")
    results = [trial("a", 0, 50, requests=2000).result,
               trial("a", 1, 50, requests=1999).result]
    assert too_few_samples(p99, results[:1]) is None  # 20 beyond p99
    assert too_few_samples(p99, results) == 1999
    assert too_few_samples(p999, [trial("a", 0, 50, requests=20_000).result]) is None
    assert too_few_samples(CPU, [trial("a", 0, 50, requests=5).result]) is None
    kinds = HttpResult.from_json(result_json(kinds={"/b": (50, 1)}))
    assert too_few_samples(metric("p50", "/b"), [kinds]) is None  # 25 beyond the median
    assert too_few_samples(metric("p99", "/b"), [kinds]) is None  # no p99 there to judge


def test_too_few_samples_is_shown_and_neither_inconclusive_nor_a_verdict() -> None:
    # 10 req/s for 5 s: 50 requests a trial, as the default bench's multipart cells.
    rng = random.Random(1)
    trials = [trial(t, r, 50 * (1 + rng.uniform(-0.01, 0.01)), requests=50 + r)
              for t in ("a", "b") for r in range(4)]
    comparisons, _ = compare(trials, ("a", "uvicorn"))
    p99 = by_metric(comparisons, "b/uvicorn/plaintext", "p99")
    assert p99.verdict == TOO_FEW and p99.fewest == 50 and p99.low is None
    assert by_metric(comparisons, "b/uvicorn/plaintext", "p50").verdict == NO_CHANGE
    assert "| too few samples (n=50) |" in markdown(comparisons, {})
    assert exit_code(comparisons) == 0 and gate_code(comparisons) == 0
    assert answered(p99) and regressed(p99) is None
    few = [c for c in comparisons if c.verdict == TOO_FEW]
    assert exit_code(few) == 3 and gate_code(few) == 3  # nothing was judged


def test_a_stricter_level_widens_the_interval() -> None:
    ratios = [1.0, 1.1, 1.2, 0.9, 1.05]
    _, low95, high95 = bootstrap_interval(ratios)
    _, low, high = bootstrap_interval(ratios, level=look_level(3))
    assert low < low95 and high > high95
    assert look_level(1) == 0.95 and look_level(3) == pytest.approx(1 - 0.05 / 3)


def test_a_run_that_may_add_rounds_is_judged_at_its_share_of_the_error() -> None:
    trials = noisy("a", 50, 4, 1) + noisy("b", 50, 4, 2)
    assert planned_level(trials) == 0.95
    comparisons, _ = compare([replace(t, looks=3) for t in trials], ("a", "uvicorn"))
    assert {c.level for c in comparisons} == {look_level(3)}
    assert markdown(comparisons, {}).startswith("| cell | vs | metric | ratio | 98.3% CI |")


def test_the_rounds_needed_follow_the_noise_seen() -> None:
    def seen(*ratios: float) -> Comparison:
        ratio, low, high = bootstrap_interval(list(ratios))
        return Comparison("b", "a", CPU, ratios, ratio, low, high, verdict(CPU, low, high))

    quiet, loud = seen(1.02, 1.04, 1.03), seen(0.95, 1.10, 1.03)
    assert quiet.spread == pytest.approx(0.0097, rel=0.01)
    assert rounds_needed(quiet) == 3  # (4.30 · 0.0097 / ln 1.025)² = 2.9
    needed = rounds_needed(loud)
    assert needed is not None and needed > 50
    assert extra_rounds([quiet, loud]) == needed - 3
    assert extra_rounds([quiet]) == 1  # at least one more round
    assert extra_rounds([seen(1.0)]) == 0  # one round: no spread to estimate from
    assert "±1.0% a round, CI ±" in markdown([quiet], {})


def test_a_paired_half_meets_the_baseline_half_beside_it() -> None:
    # Round 0 had b and c each beside its own a: b's ratio is against a's half in b's pair.
    trials = [trial("b", 0, 110.0, pair="b/uvicorn/plaintext"),
              trial("a", 0, 100.0, pair="b/uvicorn/plaintext"),
              trial("c", 0, 100.0, pair="c/uvicorn/plaintext"),
              trial("a", 0, 50.0, pair="c/uvicorn/plaintext"),
              trial("b", 1, 220.0, pair="b/uvicorn/plaintext"),
              trial("a", 1, 200.0, pair="b/uvicorn/plaintext")]
    comparisons, _ = compare(trials, ("a", "uvicorn"), (CPU,))
    assert by_metric(comparisons, "b/uvicorn/plaintext", "cpu_per_request").ratios == (1.1, 1.1)
    assert by_metric(comparisons, "c/uvicorn/plaintext", "cpu_per_request").ratios == (2.0,)


def test_could_decide_weighs_the_distance_to_the_edge_against_the_noise() -> None:
    def seen(ratios: tuple[float, ...]) -> Comparison:
        ratio, low, high = bootstrap_interval(list(ratios))
        return Comparison("b", "a", CPU, ratios, ratio, low, high, INCONCLUSIVE)

    quiet = seen((1.02, 0.98, 1.0))  # ±2% around 1: a few more rounds decide "no change"
    assert not could_decide(quiet, 3) and could_decide(quiet, 8)
    edge = seen((1.049, 1.051, 1.05))  # on δ itself: no number of rounds decides it
    assert not could_decide(edge, 1000)
    wild = seen((1.3, 0.7, 1.0))  # a p99's ±30%: out of reach of any short budget
    assert not could_decide(wild, 20)


def counted(target: str, round_: int, instructions: float) -> Trial:
    """A callgrind trial (the reference one) of cell TARGET/callgrind/plaintext."""
    document = json.loads((DATA_DIR / "trial-v2-callgrind.json").read_text())
    document.pop("schema_version")
    document.update(round=round_, cell={**document["cell"], "target": target,
                                        "name": f"{target}/callgrind/plaintext"})
    kind = document["result"]["kinds"]["plaintext"]
    kind["instructions_per_request"] = document["result"]["instructions_per_request"] = \
        instructions
    return Trial.from_json(document)


def test_one_round_of_instruction_counts_decides_and_rounds_that_disagree_widen_it() -> None:
    base = 100_000.0

    def judged(*rounds: tuple[float, float]) -> Comparison:
        trials = [t for r, (ours, theirs) in enumerate(rounds)
                  for t in (counted("base", r, theirs), counted("new", r, ours))]
        found, _ = compare(trials, ("base", "callgrind"), (metric("instructions"),))
        return found[0]

    # CPU per request needs two rounds for any interval (above); a count decides from one.
    assert judged((base * 1.02, base)).verdict == REGRESSION
    assert judged((base * 1.002, base)).verdict == NO_CHANGE
    # Its interval: the ratio, widened by what two counts of the same code may differ by.
    one = judged((base * 1.02, base))
    assert one.low == pytest.approx(1.02 / (1 + REPEATS_WITHIN) ** 2)
    # Two rounds 1.5% apart (counts that did not repeat): the interval spans both.
    assert judged((base * 1.005, base), (base * 1.02, base)).verdict == INCONCLUSIVE


def test_verify_finds_counts_of_one_build_that_did_not_repeat() -> None:
    same = [counted("base", r, 100_000.0) for r in range(2)]
    assert unrepeated(same) == []
    within = [counted("base", 0, 100_000.0), counted("base", 1, 100_000.0 * (1 + 5e-5))]
    assert unrepeated(within) == []
    apart = [counted("base", 0, 100_000.0), counted("base", 1, 100_300.0)]
    assert unrepeated(apart) == [
        "base/callgrind/plaintext instructions: 100,000.0 and 100,300.0, 0.300% apart",
        "base/callgrind/plaintext instructions [plaintext]: 100,000.0 and 100,300.0, 0.300% "
        "apart"]
