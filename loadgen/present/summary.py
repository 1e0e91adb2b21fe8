"""What a person reads: the run summary and the live progress line."""

from __future__ import annotations

from typing import TextIO

from hdrh.histogram import HdrHistogram

from loadgen.cpus import format_cores
from loadgen.results import histogram
from loadgen.results.figures import Result
from loadgen.results.measured import Interval
from loadgen.results.metrics import METRICS
from loadgen.results.run import KindFigures, RunResult, worker_stats

_COLUMNS = ("p50", "p90", "p99", "p999", "p9999", "max")
_HEADS = ("p50", "p90", "p99", "p99.9", "p99.99", "max")


def format_us(us: int) -> str:
    """A latency in the unit that reads best: µs below 1 ms, ms below 10 s, else s."""
    if us < 1000:
        return f"{us}µs"
    if us < 10_000_000:
        return f"{us / 1000:.2f}ms"
    return f"{us / 1_000_000:.2f}s"


def _latency_rows(figures: KindFigures) -> list[str]:
    rows = [f"{'latency':<13}" + "".join(f"{h:>10}" for h in _HEADS)]
    for label, hist in (("corrected", figures.corrected), ("uncorrected", figures.uncorrected),
                        ("send lag", figures.send_lag)):
        values = histogram.summary(hist)
        rows.append(f"{label:<13}" + "".join(f"{format_us(values[c]):>10}"
                                                      for c in _COLUMNS))
    return rows


KINDS_SHOWN = 20  # the busiest kinds; the JSON holds every one


def _kind_table(result: RunResult) -> list[str]:
    """One row per request kind, the KINDS_SHOWN busiest in the scenario's order: count,
    status, corrected and uncorrected percentiles."""
    busiest = sorted(result.kinds, key=lambda name: -result.kinds[name].requests)[:KINDS_SHOWN]
    shown = [name for name in result.kinds if name in set(busiest)]
    width = max(len(name) for name in shown) + 2
    rows = [f"{'per kind':<{width}}{'requests':>9}  {'status':<10}"
            f"{'corr p50':>10}{'p99':>10}{'p99.9':>10}{'uncorr p50':>12}{'p99':>10}"]
    for name in shown:
        figures = result.kinds[name]
        corrected = histogram.summary(figures.corrected)
        uncorrected = histogram.summary(figures.uncorrected)
        status = "/".join(str(code) for code in sorted(figures.status)) or "-"
        rows.append(f"  {name:<{width - 2}}{figures.requests:>9,}  {status:<10}"
                    + "".join(f"{format_us(corrected[c]):>10}" for c in ("p50", "p99", "p999"))
                    + f"{format_us(uncorrected['p50']):>12}{format_us(uncorrected['p99']):>10}")
    if len(result.kinds) > len(shown):
        rows.append(f"  and {len(result.kinds) - len(shown):,} more kinds (in the JSON)")
    return rows


def _self_check(result: RunResult) -> list[str]:
    """The three causes the self-check tells apart: the generator, a pause of the machine, the
    server pushing back; the first only leaves the run out of verdicts."""
    check = result.check_generator()
    verdict = ("GENERATOR-BOUND: " + "; ".join(check.reasons)) if check.bound else "kept up"
    detail = f"CPU {check.cpu_fraction:.0%} of its core"
    if check.core_wait_fraction >= 0.01:
        detail += f", {check.core_wait_fraction:.0%} waiting for it behind other processes"
    if check.intended_rps is not None:
        detail += (f"; {check.late:,} of {check.sent:,} sends late with a connection free, "
                   f"send lag p99 {format_us(check.generator_lag_p99_us)}")
    lines = [f"generator    {verdict}", f"             {detail}"]
    steal = sum(result.steal_ms(server=False))
    server_steal = sum(result.steal_ms(server=True))
    stolen = f"steal {steal:,.0f} ms on the generator's core(s), {server_steal:,.0f} ms on the " \
             "server's"
    if check.pauses:
        at, longest = max(check.pauses, key=lambda p: p[1])
        late = (f"; {check.late_in_pause:,} sends late only by a pause, not counted against the "
                f"generator" if check.late_in_pause else "")
        lines.append(f"machine      paused {len(check.pauses):,} time(s), "
                     f"{format_us(int(check.paused_s * 1e6))} in all (longest "
                     f"{format_us(int(longest * 1e6))} at {at:.2f} s){late}; {stolen}; the "
                     f"seconds it touched are marked in the JSON series")
    else:
        lines.append(f"machine      no pause seen; {stolen}")
    pushback = (f"{check.waited_fraction:.1%} of requests waited for a busy connection"
                if check.intended_rps is not None else "closed loop")
    if check.waited_in_pause:
        pushback += f" ({check.waited_in_pause:,} of them fell due inside a pause)"
    if check.write_blocked:
        pushback += (f"; {check.write_blocked:,} writes waited "
                     f"{format_us(int(check.write_blocked_s * 1e6))} in all for a full socket")
    lines.append(f"pushback     {pushback}")
    return lines


def _counts(counter: dict[int, int] | dict[str, int]) -> str:
    return ", ".join(f"{key}: {n:,}" for key, n in sorted(counter.items())) or "none"


def render(result: RunResult) -> str:
    """The text summary of a run."""
    profile = result.profile
    check = result.check_generator()
    lines = [f"loadgen run {result.target}", f"  {profile.describe()}"]
    server = (format_cores(result.server_cpus) if result.server_cpus is not None
              else "not started by loadgen")
    on_cluster = any(w.where for w in result.workers) or any(m.where for m in result.missing)
    generator = (f"{len(result.workers) + len(result.missing)} worker(s) on a Dask cluster"
                 if on_cluster else format_cores(result.generator_cpus))
    lines.append(f"  cores: generator {generator}, server {server}")
    shared = set(result.server_cpus or ()) & set(result.generator_cpus)
    if shared:
        lines.append(f"  WARNING: generator and server share core(s) "
                     f"{format_cores(tuple(sorted(shared)))}; each slows the other")
    if result.interrupted:
        lines.append("  INTERRUPTED: the run was stopped early; figures cover what was measured")
    for missing in result.missing:
        where = (f"on {missing.where} ({missing.reason})" if missing.where
                 else f"(exit code {missing.exitcode})")
        lines.append(f"  PARTIAL: worker {missing.index} ended without a result {where}; "
                     f"its share of the load is missing")
    for figures in (map(worker_stats, result.workers) if on_cluster else ()):
        lines.append(f"  worker {figures.index} on {figures.where}: "
                     f"{figures.throughput_rps:,.0f} req/s, send lag p99 "
                     f"{format_us(figures.send_lag_p99_us)}, CPU "
                     f"{figures.cpu_fraction:.0%} of a core, on core(s) "
                     f"{format_cores(figures.cpus)}")
    lines.append("")
    rate = f"{result.throughput_rps:,.0f} req/s"
    if check.intended_rps is not None:
        rate += f" (scheduled {check.intended_rps:,.0f} req/s)"
    lines.append(f"requests     {result.requests:,} in {result.duration_s:.2f} s = {rate}")
    lines += _latency_rows(result.total)
    lines.append(f"status       {_counts(result.total.status)}")
    lines.append(f"errors       {_counts(result.total.errors)}")
    handshakes = result.handshakes()
    if handshakes is not None:
        lines.append(f"tls          {handshakes.count:,} handshakes ({handshakes.resumed:,} "
                     f"resumed): p50 "
                     f"{format_us(handshakes.p50)}, p99 {format_us(handshakes.p99)}, max "
                     f"{format_us(handshakes.max)}")
    reasons = result.invalid_reasons()
    checked = sum(k.checked for k in result.kinds.values())
    if reasons:
        lines.append("INVALID      " + "; ".join(reasons))
    else:
        lines.append(f"valid        every status as expected; {checked:,} sampled responses "
                     f"checked in full, all correct")
    if len(result.kinds) > 1:
        lines += _kind_table(result)
    lines += _self_check(result)
    if result.server is not None:
        cpu = result.server_cpu_us_per_request
        per_request = f"{cpu:,.1f} µs CPU per request" if cpu is not None else "CPU unknown"
        lines.append(f"server       {result.server.name}, {result.server.workers} worker(s): "
                     f"{per_request}, RSS max {result.server.rss_mb_max:,.0f} MB")
    if result.profiled and result.py_spy is not None:
        lines.append(f"profiled     py-spy sampled the server in the window on core(s) "
                     f"{format_cores(result.py_spy.cores)}: {result.py_spy.samples:,} samples; "
                     f"the figures above bear its cost")
    return "\n".join(lines)


class Progress:
    """A live line (elapsed, req/s, p99 so far) redrawn as the workers' intervals arrive."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.requests = 0
        self.seconds = 0
        self.corrected = histogram.new_histogram()

    def __call__(self, interval: Interval) -> None:
        self.requests += interval.requests
        self.seconds = max(self.seconds, interval.index + 1)
        self.corrected.add(HdrHistogram.decode(interval.corrected))
        p99 = int(self.corrected.get_value_at_percentile(99.0))
        self.out.write(f"\r  {self.seconds:>4} s  {self.requests / self.seconds:>10,.0f} req/s"
                       f"  p99 so far {format_us(p99):>9}   ")
        self.out.flush()

    def close(self) -> None:
        if self.seconds:
            self.out.write("\r" + " " * 60 + "\r")
            self.out.flush()


def trial_figures(result: Result) -> str:
    """A stored trial's result in a few words, for a progress line: the charted metrics it
    has, over the whole run (in process: over the mix)."""
    parts = [f"{m.name} {format_us(int(value))}" if m.percentile is not None
             else f"{m.title} {value:,.{0 if value >= 100 else 2}f} {m.unit}"
             for m in METRICS if m.charted and (value := m.value(result)) is not None]
    parts += [flag for flag, shown in (("INVALID", not result.valid),
                                       ("GENERATOR-BOUND", result.generator_bound)) if shown]
    return ", ".join(parts) or "no figures"
