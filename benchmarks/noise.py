"""Where the spread between identical builds comes from: A/A benches (Starlette routing,
routes=100, on uvicorn; one app under two names) under several load settings, each ROUNDS
interleaved rounds with no added rounds. Prints, per setting, the per-round spread of the
CPU-per-request and p50 ratios (the noise a verdict must see through) and the 95% interval's
half-width after those rounds.

Usage: python benchmarks/noise.py [ROUNDS] [SETTING ...]; settings are RATE/DURATION, paired
(the two loaded in turns in one trial, the default), or RATE/DURATION/apart (a trial each):
e.g. 2000/5s, 2000/5s/apart, or 1000/3s/apart (the old history and bisect defaults)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from loadgen.analysis.compare import compare
from loadgen.results.metrics import metric
from loadgen.results.store import RunStore

BENCH = """
rounds = {rounds}
paired = {paired}
baseline = {{ target = "a", server = "uvicorn" }}
[load]
rate = {rate}
connections = 16
duration = "{duration}"
warmup = "1s"
[[target]]
name = "a"
app = "starlette"
[[target]]
name = "b"
app = "starlette"
[[server]]
name = "uvicorn"
[[scenario]]
name = "routing"
params = {{ routes = 100 }}
"""
SETTINGS = ("2000/5s", "2000/5s/apart", "600/5s")


def measure(rounds: int, setting: str, tmp: Path) -> None:
    rate, duration, *apart = setting.split("/")
    home = tmp / setting.replace("/", "-")
    home.mkdir()
    (home / "bench.toml").write_text(BENCH.format(rounds=rounds, rate=rate, duration=duration,
                                                  paired="false" if apart else "true"))
    subprocess.run([sys.executable, "-m", "loadgen", "bench", str(home / "bench.toml"),
                    "--results", str(home / "results"), "--budget", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    run = next(p for p in (home / "results").glob("*/*") if p.is_dir())
    comparisons, left_out = compare(RunStore(run).trials(), ("a", "uvicorn"),
                                    (metric("cpu_per_request"), metric("p50")), level=0.95)
    for c in comparisons:
        spread = f"±{c.spread:.1%}" if c.spread is not None else "-"
        half = f"±{c.half_width:.1%}" if c.half_width is not None else "-"
        ratio = f"{c.ratio:.3f}" if c.ratio is not None else "-"
        print(f"{setting:>13} {c.metric.label:<16} rounds {len(c.ratios):>2}  ratio {ratio}  "
              f"spread a round {spread:>7}  95% CI half-width {half:>7}  {c.verdict}")
    for cell, count in left_out.items():
        print(f"{setting:>13} {cell}: {count} trial(s) left out")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    settings = sys.argv[2:] or SETTINGS
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            measure(rounds, setting, Path(tmp))


if __name__ == "__main__":
    main()
