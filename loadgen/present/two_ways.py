"""One scenario measured two ways, side by side in a bench report: per request kind, the
instructions per request counted in process (the callgrind server) beside the latency over the
wire on each real server the bench ran the same target on, and each server's CPU per request.
A maintainer sees whether a change in the framework's own cost shows at the socket."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from loadgen.results import histogram
from loadgen.results.figures import CountedResult, HttpResult
from loadgen.results.metrics import metric
from loadgen.results.model import Trial


@dataclass(frozen=True)
class TwoWays:
    """One target's figures in one scenario: kind -> instructions per request (the median of
    the rounds), kind -> server -> corrected latency merged over the rounds, and server -> CPU
    µs per request (the median of the rounds)."""

    target: str
    instructions: dict[str, float]
    latency: dict[str, dict[str, HdrHistogram]]
    cpu_us: dict[str, float]

    def rows(self) -> list[list[str]]:
        """A row per request kind: its instructions, then p50 and p99 (µs) on each server."""
        servers = sorted(self.cpu_us)
        out = []
        for kind, count in self.instructions.items():
            row = [kind, f"{count:,.0f}"]
            for server in servers:
                found = self.latency.get(kind, {}).get(server)
                row += ([f"{found.get_value_at_percentile(p):,}" for p in (50, 99)]
                        if found is not None else ["-", "-"])
            out.append(row)
        return out

    def headers(self) -> list[str]:
        return ["request kind", "instructions / request (in process)",
                *(f"{server} {p} (µs)" for server in sorted(self.cpu_us)
                  for p in ("p50", "p99"))]

    def cpu_text(self) -> str:
        return ", ".join(f"{server} {cpu:,.0f} µs" for server, cpu in sorted(self.cpu_us.items()))


def two_ways(trials: list[Trial]) -> list[TwoWays]:
    """Each target of one scenario's trials counted in process and served over the wire."""
    counted: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    latency: dict[str, dict[str, dict[str, HdrHistogram]]] = defaultdict(
        lambda: defaultdict(dict))
    cpu: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for trial in trials:
        result, target, server = trial.usable_result, trial.cell.target, trial.cell.server
        if isinstance(result, CountedResult):
            for kind in result.kinds:
                if (value := metric("instructions", kind).value(result)) is not None:
                    counted[target][kind].append(value)
        elif isinstance(result, HttpResult) and result.server_cpu_us_per_request:
            cpu[target][server].append(result.server_cpu_us_per_request)
            for kind, figures in result.kinds.items():
                merged = latency[target][kind].setdefault(server, histogram.new_histogram())
                merged.add(HdrHistogram.decode(figures.histograms.corrected))
    return [TwoWays(target, {k: statistics.median(v) for k, v in counted[target].items()},
                    {k: dict(v) for k, v in latency[target].items()},
                    {s: statistics.median(v) for s, v in cpu[target].items()})
            for target in sorted(counted) if cpu.get(target)]
