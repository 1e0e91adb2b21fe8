"""How long one point of instruction counts takes, and whether it repeats.

`loadgen inproc --instructions` on Starlette's routing scenario (routes=100: 14 request kinds),
twice in a row: the time of each (one valgrind process counts every kind, a child forked per
kind, two at a time on this machine's cores) and the largest difference between the two runs'
counts of a kind: what one point measured once may be trusted to.

Run: .venv/bin/python benchmarks/instruction_speed.py (about 35 s here; needs valgrind and
libjemalloc2).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ["inproc", "--target", "starlette", "--scenario", "routing", "--param", "routes=100",
           "--instructions"]


def counted(out: Path) -> tuple[float, dict[str, float]]:
    """The command's wall time and its instructions per request per kind."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "loadgen", *COMMAND, "--json", str(out)], check=True,
                   capture_output=True)
    took = time.monotonic() - started
    kinds = json.loads(out.read_text())["kinds"]
    return took, {k: v["instructions_per_request"] for k, v in kinds.items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (first_s, first), (second_s, second) = (counted(Path(tmp) / f"{i}.json") for i in (1, 2))
    print(f"routing (routes=100), {len(first)} request kinds, one point: "
          f"{first_s:.1f} s, then {second_s:.1f} s")
    apart = max(abs(second[k] / first[k] - 1) for k in first)
    kind = max(first, key=lambda k: abs(second[k] / first[k] - 1))
    print(f"the two runs' counts of a kind: at most {apart:.5%} apart ({kind!r}: "
          f"{first[kind]:,.1f} and {second[kind]:,.1f} instructions per request)")


if __name__ == "__main__":
    main()
