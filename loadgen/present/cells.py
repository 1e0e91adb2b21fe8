"""Each cell's own figures, as a table to paste into a README: a row per target and server, a
column per scenario (per protocol, in a bench with a protocol axis), each the median over the
cell's usable rounds of the server's CPU per request and the p50 latency. Verdicts say which
cell differs; this says by how much in absolute terms."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

from loadgen.present.summary import format_us
from loadgen.results.figures import HttpResult
from loadgen.results.model import Trial
from loadgen.servers.launchers import PROTOCOLS


def cells_markdown(trials: Iterable[Trial]) -> str:
    """The table; "" when no trial was measured over the wire."""
    cpu: dict[tuple[str, str], list[float]] = defaultdict(list)
    p50: dict[tuple[str, str], list[int]] = defaultdict(list)
    rows: dict[str, None] = {}
    columns: dict[str, int] = {}  # each scenario label, and its protocol's place in PROTOCOLS
    for trial in trials:
        result = trial.usable_result
        if not isinstance(result, HttpResult) or result.server_cpu_us_per_request is None:
            continue
        row = f"{trial.cell.target}/{trial.cell.server}"
        rows[row] = None
        columns[trial.cell.scenario] = PROTOCOLS.index(trial.cell.protocol or "http1")
        cpu[row, trial.cell.scenario].append(result.server_cpu_us_per_request)
        p50[row, trial.cell.scenario].append(result.latency_us.corrected.p50)
    if not rows:
        return ""
    # Each scenario's protocols side by side, in the order of PROTOCOLS.
    order = sorted(columns, key=lambda c: (c.partition("@")[0], columns[c]))
    lines = ["| target/server | " + " | ".join(order) + " |",
             "| --- |" + " ---: |" * len(order)]
    for row in sorted(rows):
        cells = [f"{statistics.median(cpu[row, c]):,.0f} µs · p50 "
                 f"{format_us(int(statistics.median(p50[row, c])))} ({len(cpu[row, c])})"
                 if cpu[row, c] else "-" for c in order]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return ("Per cell: server CPU per request and p50 latency, medians over its usable rounds "
            "(how many)\n\n" + "\n".join(lines))
