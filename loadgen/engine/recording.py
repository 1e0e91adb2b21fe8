"""Raw values on the hot path, HDR histograms off it.

A response costs the hot path two or three array appends (service time, send lag, status).
Every 100 ms the engine folds those arrays into the current second's histograms, and once a
second it closes the second: adds it to the run's totals and encodes it for the interval log.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable
from operator import add

from hdrh.histogram import HdrHistogram

from loadgen.results import histogram
from loadgen.results.measured import Interval, KindResult


class Recorder:
    """Raw values of one request kind since the last fold.

    `service` is µs from the write to the complete response (uncorrected latency); `lag` is µs
    from the intended send time to the write, appended in open loop only: in closed loop the
    intended time is the send time, so the lag is zero by definition and costs nothing.
    Corrected latency is service + lag.
    """

    __slots__ = ("checked", "errors", "failures", "lag", "measured", "service", "status")

    def __init__(self, measured: bool) -> None:
        self.measured = measured  # False for the warm-up's recorders, whose values are dropped
        self.service = array("q")
        self.lag = array("q")
        self.status = array("i")
        self.errors: Counter[str] = Counter()
        self.checked = 0  # sampled responses checked in full
        self.failures: Counter[str] = Counter()  # what was wrong with them

    def take(self) -> tuple[array[int], array[int], array[int]]:
        taken = self.service, self.lag, self.status
        self.service, self.lag, self.status = array("q"), array("q"), array("i")
        return taken

    def clear(self) -> None:
        if not (self.service or self.errors or self.failures or self.checked):
            return
        del self.service[:], self.lag[:], self.status[:]
        self.errors.clear()
        self.failures.clear()
        self.checked = 0


class KindTotals:
    """The histograms of one request kind over the whole measured window, made at its first
    value: a kind that is never sent costs no histogram (see histogram.merge)."""

    def __init__(self) -> None:
        self.histograms: tuple[HdrHistogram, HdrHistogram, HdrHistogram] | None = None
        self.status: Counter[int] = Counter()

    def fold(self, rec: Recorder, second: tuple[HdrHistogram, HdrHistogram]) -> None:
        """Move the recorder's raw values into these totals, and into `second`: the current
        second's (corrected, uncorrected) histograms of all kinds together. Recording each
        value twice costs less than merging histograms at the end of each second: with the
        14 kinds of the routing scenario that merge took 10 ms, and stalled the sends due."""
        if not rec.service:  # most kinds, most folds, in a scenario of thousands of kinds
            return
        service, lag, status = rec.take()
        if self.histograms is None:
            self.histograms = (histogram.new_histogram(), histogram.new_histogram(),
                               histogram.new_histogram())
        corrected, uncorrected, send_lag = self.histograms
        histogram.record_all(uncorrected, service, second[1])
        if lag:
            histogram.record_all(corrected, map(add, service, lag), second[0])
            histogram.record_all(send_lag, lag)
        else:
            histogram.record_all(corrected, service, second[0])
            send_lag.record_value(0, len(service))
        self.status.update(status)

    def result(self, rec: Recorder) -> KindResult:
        corrected, uncorrected, send_lag = (
            (histogram.EMPTY,) * 3 if self.histograms is None
            else tuple(histogram.encode(h) for h in self.histograms))
        return KindResult(
            corrected=corrected,
            uncorrected=uncorrected,
            send_lag=send_lag,
            status=dict(self.status),
            errors=dict(rec.errors),
            checked=rec.checked,
            failures=dict(rec.failures),
        )


class Seconds:
    """The measured window's seconds: the current one's (corrected, uncorrected) histograms,
    all kinds together, filled as values are folded; each closed second handed on."""

    def __init__(self, sink: Callable[[Interval], None] | None = None) -> None:
        self.current = histogram.new_histogram(), histogram.new_histogram()
        self.intervals: list[Interval] = []
        self.index = 0
        self._sink = sink

    def close(self) -> None:
        corrected, uncorrected = self.current
        self.current = histogram.new_histogram(), histogram.new_histogram()
        requests = int(corrected.get_total_count())
        if requests:
            interval = Interval(self.index, requests,
                                histogram.encode(corrected), histogram.encode(uncorrected))
            self.intervals.append(interval)
            if self._sink is not None:
                self._sink(interval)
        self.index += 1
