from __future__ import annotations

import io
import random

import pytest
from hdrh.histogram import HdrHistogram

from loadgen.results import histogram


def values(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [int(rng.lognormvariate(7, 2)) for _ in range(n)]


def test_batched_recording_equals_hdrh_record_value() -> None:
    sample = [*values(50_000, 1), 0, 1, 2047, 2048, 4095, 4096, histogram.HIGHEST_US]
    fast, reference = histogram.new_histogram(), histogram.new_histogram()
    histogram.record_all(fast, sample)
    for value in sample:
        reference.record_value(value)
    assert list(fast.counts) == list(reference.counts)
    assert (fast.get_total_count(), fast.min_value, fast.max_value) == (
        reference.get_total_count(), reference.min_value, reference.max_value)
    assert fast.equals(reference)


def test_out_of_range_values_are_clamped_not_dropped() -> None:
    hist = histogram.new_histogram()
    histogram.record_all(hist, [-5, 10, histogram.HIGHEST_US * 10])
    assert hist.get_total_count() == 3
    assert hist.get_max_value() >= histogram.HIGHEST_US


def test_merging_encoded_parts_is_exact() -> None:
    parts = [values(20_000, seed) for seed in range(4)]
    whole = histogram.new_histogram()
    histogram.record_all(whole, [v for part in parts for v in part])
    encoded = []
    for part in parts:
        hist = histogram.new_histogram()
        histogram.record_all(hist, part)
        encoded.append(histogram.encode(hist))
    merged = histogram.merge(encoded)
    assert list(merged.counts) == list(whole.counts)
    assert histogram.summary(merged) == histogram.summary(whole)


def test_interval_log_is_tagged_and_decodable() -> None:
    first, second = histogram.new_histogram(), histogram.new_histogram()
    histogram.record_all(first, [100, 200, 300])
    histogram.record_all(second, [5000])
    out = io.StringIO()
    histogram.write_interval_log(out, [(0.0, 1.0, {"corrected": first}),
                                       (1.0, 1.0, {"corrected": second})], 1700000000.0, "test")
    lines = [line for line in out.getvalue().splitlines() if line.startswith("Tag=")]
    assert len(lines) == 2
    tag, start, length, max_ms, payload = lines[1].split(",")
    assert (tag, float(start), float(length)) == ("Tag=corrected", 1.0, 1.0)
    # HDR reports the top of the value's bucket: 3 significant figures.
    assert float(max_ms) == pytest.approx(5.0, rel=1e-3)
    assert HdrHistogram.decode(payload).get_total_count() == 1
