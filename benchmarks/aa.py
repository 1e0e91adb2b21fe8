"""How often does the comparison cry wolf? An A/A bench (the same app under two names, at the
default bench's load and paired as it is) run RUNS times, each with budgeted rounds for
undecided verdicts (`budget`); counts the false "regression" and "improvement" verdicts over
all of them. Goal: at most one in all."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from loadgen.analysis.compare import IMPROVEMENT, REGRESSION, compare
from loadgen.results.store import RunStore

RUNS = 10
BENCH = """
rounds = 3
budget = "75s"
baseline = { target = "a", server = "uvicorn" }
[load]
rate = 1100
duration = "2s"
warmup = "0.5s"
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
"""


def main() -> None:
    flagged = 0
    verdicts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench.toml").write_text(BENCH)
        for n in range(1, RUNS + 1):
            results = Path(tmp) / f"results{n}"
            subprocess.run([sys.executable, "-m", "loadgen", "bench", str(Path(tmp) /
                            "bench.toml"), "--results", str(results)], check=True,
                           stdout=subprocess.DEVNULL)
            run = next(p for p in results.glob("*/*") if p.is_dir())
            comparisons, _ = compare(RunStore(run).trials(), ("a", "uvicorn"))
            these = Counter(c.verdict for c in comparisons)
            verdicts.update(these)
            flagged += these[REGRESSION] + these[IMPROVEMENT]
            rounds = len({t.round for t in RunStore(run).trials()})
            print(f"A/A run {n} ({rounds} rounds): "
                  + ", ".join(f"{v} {k}" for k, v in sorted(these.items())))
    print(f"{flagged} false 'regression' or 'improvement' verdicts in {RUNS} A/A runs (goal: "
          f"at most 1); all verdicts: {dict(verdicts)}")


if __name__ == "__main__":
    main()
