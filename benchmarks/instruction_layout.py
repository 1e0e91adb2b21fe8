"""How much an instruction count moves with the memory layout alone.

The same Python work (100 compiled route patterns tried in turn, a small dict, a string) is
counted under callgrind as loadgen counts a request kind: the collector collected and frozen
first, calls counted between two marks (a foreign call through ctypes, with callgrind's
`--dump-before=ffi_call`), less what the marks cost. The only thing that changes between runs
is how many unrelated dicts were allocated, and kept, before the counted work. The work is
identical; a count that moves is the memory layout's doing (where the allocator puts what the
work allocates, and which addresses collide in the interpreter's caches: which of these, this
does not tell apart), and it bounds how small a change in instruction counts means anything.

Each size is counted on glibc's malloc and on jemalloc (preloaded, as loadgen counts a target):
under glibc the cost of an allocation depends on the state of its bins, hence on what the
process allocated before.

Run: .venv/bin/python benchmarks/instruction_layout.py (about a minute here; needs valgrind
and libjemalloc2).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from loadgen.inproc.measure import ALLOCATOR, instruction_total

WORK = """
import ctypes, gc, re, sys
mark = ctypes.pythonapi.Py_GetCompiler
patterns = [re.compile(f"^/route{i}/(?P<x>[^/]+)$") for i in range(100)]
def work(n):
    for _ in range(n):
        for p in patterns:
            p.match("/route99/abc")
        d = {"a": 1, "b": [1, 2, 3]}
        str(d) + "x" * 10
unrelated = [dict(a=i) for i in range(int(sys.argv[1]))]
mark()
gc.collect()
gc.freeze()
work(50)
mark()
work(CALLS)
mark()
mark()
"""
CALLS = 200
SIZES = (0, 1, 10, 100, 300, 1000, 3000)


ALLOCATORS = {"glibc": {}, "jemalloc": {"LD_PRELOAD": ALLOCATOR}}


def per_call(unrelated: int, allocator: str, folder: Path) -> float:
    script = folder / "work.py"
    script.write_text(WORK.replace("CALLS", str(CALLS)))
    out = folder / f"n{unrelated}-{allocator}"
    subprocess.run(["valgrind", "--tool=callgrind", "--quiet", "--dump-before=ffi_call",
                    f"--callgrind-out-file={out}", sys.executable, str(script), str(unrelated)],
                   check=True, env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
                                    **ALLOCATORS[allocator]})
    # Dumps: .1 before the first mark, .2 the warm calls, .3 the counted ones, .4 a mark alone.
    counted, marks = (instruction_total(Path(f"{out}.{i}")) for i in (3, 4))
    return (counted - marks) / CALLS


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind: apt-get install valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        counts = {a: {n: per_call(n, a, Path(tmp)) for n in SIZES} for a in ALLOCATORS}
    print("unrelated dicts before the work" + "".join(
        f"   {a + ': instructions per call':>32}   vs none" for a in ALLOCATORS))
    for n in SIZES:
        print(f"{n:>31}" + "".join(f"   {c[n]:>32,.1f}   {c[n] / c[0] - 1:+7.3%}"
                                   for c in counts.values()))
    for allocator, found in counts.items():
        spread = (max(found.values()) - min(found.values())) / found[0]
        print(f"{allocator}: the same work counted {spread:.2%} apart, max to min, by the "
              f"layout alone")


if __name__ == "__main__":
    main()
