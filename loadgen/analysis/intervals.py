"""The interval statistics of a comparison or a series: a confidence interval of a geometric
mean over rounds, and Student's t quantile it is widened with."""

from __future__ import annotations

import math
import random
import statistics

BOOTSTRAP_SAMPLES = 4000
ALPHA = 0.05  # the chance of a wrong verdict that a run of looks may spend in all


def t_quantile(level: float, rounds: int) -> float:
    """Student's t two-sided quantile at `level` for the mean of `rounds` values."""
    # Imported here: scipy takes a second to import, which `loadgen run` has no use for.
    from scipy.stats import t as student_t

    return float(student_t.ppf(1 - (1 - level) / 2, rounds - 1))


def bootstrap_interval(ratios: list[float], seed: int = 0, level: float = 1 - ALPHA
                       ) -> tuple[float, float, float]:
    """(geometric mean, low, high): an interval at `level` of the geometric mean of the ratios,
    the wider of the bootstrap percentile interval over resampled rounds and Student's t
    interval of the mean log ratio. The percentile bootstrap alone is far too narrow with few
    rounds (at three it is about [min, max], and an A/A comparison was seen to call a 5%
    regression); the t interval alone trusts normality the bootstrap does not need."""
    logs = [math.log(r) for r in ratios]
    if len(logs) < 2:
        return ratios[0], ratios[0], ratios[0]  # one value: no interval to speak of
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(logs, k=len(logs)))
                   for _ in range(BOOTSTRAP_SAMPLES))
    center = statistics.fmean(logs)
    spread = t_quantile(level, len(logs)) * statistics.stdev(logs) / math.sqrt(len(logs))
    tail = (1 - level) / 2
    low = min(means[int(tail * (BOOTSTRAP_SAMPLES - 1))], center - spread)
    high = max(means[int((1 - tail) * (BOOTSTRAP_SAMPLES - 1))], center + spread)
    return math.exp(center), math.exp(low), math.exp(high)
