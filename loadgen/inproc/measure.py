"""The framework's own cost per request kind, with no server and no sockets: a scenario's
requests called straight into the target's ASGI app by loadgen/inproc/driver.py, in the target's
environment, with lifespan startup and shutdown.

Two modes:
- timed: µs per request, the median and spread of `repeats` samples, each long enough to time
  (pyperf-style calibration, in the driver);
- instructions: CPU instructions per request under `valgrind --tool=callgrind` with
  PYTHONHASHSEED=0, in one valgrind process per measurement: the driver imports the app and runs
  its startup once, then forks a child per request kind, which counts `calls` calls between
  two marks (a call of sched_yield, on which callgrind dumps its counters) less what a mark
  costs. Start-up is paid once, and each kind starts from the same memory whichever kinds are
  counted with it. The children run side by side on every core: instruction counts do not
  depend on what else the machine is doing.

  The target runs on jemalloc (LD_PRELOAD) while counted. Under glibc's malloc the cost of an
  allocation depends on the state of its bins, hence on everything the process did before:
  the same calls counted 2.8% apart with only unrelated allocations before them, and a kind
  counted in a fresh process or in a forked child 0.7-4% apart (docs/results/instructions.md).
  jemalloc's size classes cost the same whatever came before: 0.07% apart.

The requests are the scenario's own variants, encoded by httpx as over HTTP, and every
variant's first answer passes the same verifier as a preflight; a later call answering another
status fails the run.
"""

from __future__ import annotations

import base64
import ctypes.util
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.errors import LoadgenError
from loadgen.results.figures import CountedKind, CountedResult, TimedKind, TimedResult
from loadgen.results.measured import PySpyProfile
from loadgen.results.versions import json_text
from loadgen.servers import pyspy
from loadgen.servers.launchers import target_app
from loadgen.workloads.checks import verify
from loadgen.workloads.request import Endpoint
from loadgen.workloads.scenario import Request
from loadgen.workloads.variants import Variant, build_variants
from loadgen.workloads.workload import ScenarioWorkload

DRIVER = Path(__file__).with_name("driver.py")
MARKER = "loadgen-inproc-result: "  # inproc_driver.MARKER: the driver imports nothing of ours
# Names the way counts are taken (Cell.method): a history does not put counts of two ways in one
# series. Counts in processes of their own per kind and count, on glibc, had none.
COUNTING = "fork per kind, jemalloc"
CALLS = 96  # counted calls per kind: six times each of the 16 variants
ALLOCATOR = "libjemalloc.so.2"  # the soname the dynamic loader finds (Debian: libjemalloc2)
# The mark: callgrind dumps its counters before each call of this function, which neither
# Python nor the apps measured call (a count that finds more dumps than marks says so).
MARK = "sched_yield"
DUMPS = 3  # a child's dumps: before the counted calls, after them, after an empty mark
REPEATS = 10
MIN_TIME_S = 0.1
HASH_SEED = "0"  # dict and set order, hence instruction counts, depend on the hash seed
DRIVER_TIMEOUT_S = 1800
ENDPOINT = Endpoint("127.0.0.1", 8000)  # only the Host header: nothing listens


@dataclass(frozen=True)
class InprocPlan:
    """What to call, in which environment, and how to measure it."""

    app: str  # "module:attribute" on app_dir
    app_dir: Path
    python: str  # the target environment's interpreter
    workload: ScenarioWorkload
    instructions: bool = False
    calls: int = CALLS
    repeats: int = REPEATS
    min_time_s: float = MIN_TIME_S
    cores: tuple[int, ...] = ()  # where the timed driver runs; callgrind uses them all
    kinds: tuple[str, ...] = ()  # only these request kinds (default: all)
    profile_dir: Path | None = None  # timed: py-spy samples the driver into this folder

    def __post_init__(self) -> None:
        if self.instructions and self.profile_dir is not None:
            raise LoadgenError("--profile goes with timing, not --instructions: under callgrind "
                               "a sample would be of valgrind")
        if self.calls < 1:
            raise LoadgenError(f"--calls must be at least 1, not {self.calls}")
        if self.repeats < 2:
            raise LoadgenError("--repeats must be at least 2: the spread needs repeats")


@dataclass(frozen=True)
class KindFigures:
    weight: float  # the request's weight in the scenario's mix
    samples_us: tuple[float, ...] = ()  # timed: µs per request, one per sample
    loops: int = 0  # timed: calls per sample
    instructions: int | None = None  # counted: the calls' total, less a mark's cost
    calls: int = CALLS

    @property
    def us_per_request(self) -> float | None:
        return statistics.median(self.samples_us) if self.samples_us else None

    @property
    def us_spread(self) -> float | None:
        """The samples' standard deviation relative to their median."""
        median = self.us_per_request
        return statistics.stdev(self.samples_us) / median if median else None

    @property
    def instructions_per_request(self) -> float | None:
        if self.instructions is None:
            return None
        return self.instructions / self.calls

    def counted(self) -> CountedKind:
        """As a callgrind result stores it."""
        per_request = self.instructions_per_request
        if self.instructions is None or per_request is None:
            raise ValueError("not counted under callgrind")
        return CountedKind(instructions_per_request=per_request,
                           instructions={str(self.calls): self.instructions},
                           weight=self.weight)

    def timed(self) -> TimedKind:
        """As a timed result stores it."""
        return TimedKind(us_per_request=self.us_per_request, us_spread=self.us_spread,
                         samples_us=tuple(round(s, 3) for s in self.samples_us),
                         loops=self.loops, weight=self.weight)


@dataclass(frozen=True)
class InprocResult:
    kinds: dict[str, KindFigures]
    instructions: bool
    cores: tuple[int, ...]
    python: str
    py_spy: PySpyProfile | None = None  # timed with --profile

    def whole(self) -> float | None:
        """The figure over the scenario's mix: each kind's, weighted as the mix sends them."""
        pairs = [(k.instructions_per_request if self.instructions else k.us_per_request,
                  k.weight) for k in self.kinds.values()]
        known = [(value, weight) for value, weight in pairs if value is not None]
        if not known or len(known) < len(pairs):
            return None
        return sum(v * w for v, w in known) / sum(w for _, w in known)

    def record(self) -> CountedResult | TimedResult:
        """The result as it is stored (loadgen.results.figures): compare and history read its
        kinds and its figure over the mix as they read a run's latencies."""
        if self.instructions:
            return CountedResult(
                kinds={name: k.counted() for name, k in self.kinds.items()},
                instructions_per_request=self.whole(), cores=self.cores, python=self.python,
                hash_seed=HASH_SEED, profiled=self.py_spy is not None, py_spy=self.py_spy,
                allocator=ALLOCATOR)
        return TimedResult(
            kinds={name: k.timed() for name, k in self.kinds.items()},
            us_per_request=self.whole(), cores=self.cores, python=self.python,
            hash_seed=HASH_SEED, profiled=self.py_spy is not None, py_spy=self.py_spy)

    def to_json(self) -> dict[str, Any]:
        return self.record().to_json()

    def json_text(self) -> str:
        """`inproc --json`: the stored result, with the schema version."""
        return json_text(self.to_json())


def encoded(variants: list[list[Variant]]) -> list[dict[str, Any]]:
    """The variants as the driver reads them: ASGI scope fields and a base64 body."""
    out = []
    for group in variants:
        for v in group:
            url = v.request.url
            out.append({"kind": v.name, "method": v.request.method, "path": url.path,
                        "raw_path": url.raw_path.partition(b"?")[0].decode("latin-1"),
                        "query_string": url.query.decode("latin-1"),
                        "headers": [(k.decode("latin-1").lower(), val.decode("latin-1"))
                                    for k, val in v.request.headers.raw],
                        "body": base64.b64encode(v.request.content).decode("ascii")})
    return out


def _check(variants: list[Variant], answers: dict[str, Any]) -> None:
    """The preflight's verdict on each variant's first answer, and no status changed since."""
    for index, first in answers.get("first", {}).items():
        variant = variants[int(index)]
        body = base64.b64decode(first["body"])
        problem = verify(variant.expect, first["status"], body)
        if problem is not None:
            raise LoadgenError(f"in process: request {variant.name!r} ({variant.request.method} "
                               f"{variant.request.url.raw_path.decode()[:80]}): {problem}; "
                               f"body: {body[:100]!r}")
    for kind, wrong in answers["wrong_status"].items():
        raise LoadgenError(f"in process: request {kind!r} answered another status than its "
                           f"first {wrong} times")


def _drive(plan: InprocPlan, spec: dict[str, Any], wrapper: list[str] | None = None,
           sampling: Path | None = None, preload: str | None = None
           ) -> tuple[dict[str, Any], PySpyProfile | None]:
    """Run the driver once on `spec` (under `wrapper`, e.g. callgrind, with the library
    `preload` preloaded; sampled by py-spy into the folder `sampling`); its answers and the
    profile."""
    # A fixed, small environment: the process sees its variables, so they are part of what
    # an instruction count repeats. Under callgrind nothing writes bytecode caches: a run that
    # compiles a module and writes its .pyc counts more than one that finds it, and runs side
    # by side race to write them (seen: 10% apart); a native run first writes them all.
    env = {**{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
           "PYTHONHASHSEED": HASH_SEED, "PYTHONPATH": str(plan.app_dir),
           **({"PYTHONDONTWRITEBYTECODE": "1"} if wrapper else {}),
           **({"LD_PRELOAD": preload} if preload else {}),
           **dict(plan.workload.target_env)}
    # -P: the script's own folder (loadgen/inproc/) stays off sys.path, so that no module of
    # ours can shadow one the app imports.
    argv = [*(wrapper or []), plan.python, "-P", str(DRIVER)]
    profile = None
    try:
        if sampling is None:
            done = subprocess.run(argv, cwd=plan.app_dir, env=env, input=json.dumps(spec),
                                  capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S)
        else:  # py-spy on the driver's cores: it costs them about 3%, said in the result
            done, profile = pyspy.record_command(
                argv, sampling, "inproc", env, input=json.dumps(spec), cwd=plan.app_dir,
                cores=plan.cores, timeout_s=DRIVER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LoadgenError(f"the in-process driver took over {DRIVER_TIMEOUT_S} s") from None
    last = done.stdout.rstrip("\n").rpartition("\n")[2]
    if done.returncode or not last.startswith(MARKER):
        lines = [line for line in done.stderr.splitlines() if line.strip()
                 and not line.startswith("==")]  # valgrind's own chatter
        raise LoadgenError(f"the in-process driver failed: {(lines or ['no output'])[-1]}")
    answers: dict[str, Any] = json.loads(last.removeprefix(MARKER))
    return answers, profile


def instruction_total(callgrind_out: Path) -> int:
    """The instructions a callgrind run counted (its `summary:` or `totals:` line)."""
    for line in callgrind_out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise LoadgenError(f"{callgrind_out}: no instruction total")


def _valgrind() -> str:
    found = shutil.which("valgrind")
    if found is None or ctypes.util.find_library("jemalloc") is None:
        raise LoadgenError("--instructions needs valgrind and jemalloc: "
                           "apt-get install valgrind libjemalloc2")
    return found


def _counted_calls(folder: Path, pid: int) -> int:
    """A child's counted calls' instructions, less a mark's cost, from its numbered dumps."""
    dumps = sorted(folder.glob(f"cg.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    if len(dumps) != DUMPS:
        raise LoadgenError(f"callgrind dumped {len(dumps)} times where the driver marked "
                           f"{DUMPS}: does the app call {MARK}()?")
    _, calls, mark = (instruction_total(d) for d in dumps)
    return calls - mark


def _chosen(requests: list[Request], kinds: tuple[str, ...]) -> list[Request]:
    names = [r.name for r in requests]
    unknown = [k for k in kinds if k not in names]
    if unknown:
        raise LoadgenError(f"the scenario has no request kind {unknown[0]!r}; it has: "
                           f"{', '.join(names)}")
    return [r for r in requests if r.name in kinds] if kinds else requests


@dataclass(frozen=True)
class _Prepared:
    requests: list[Request]
    variants: list[Variant]  # flat, in the order the driver gets them
    spec: dict[str, Any]  # what every driver run shares


def _prepare(plan: InprocPlan) -> _Prepared:
    requests = _chosen(plan.workload.scenario.requests(plan.workload.values), plan.kinds)
    variants = build_variants(ENDPOINT, requests, plan.workload.variants, plan.workload.seed)
    return _Prepared(requests, [v for group in variants for v in group],
                     {"app": plan.app, "app_dir": str(plan.app_dir),
                      "requests": encoded(variants)})


def first_answers(plan: InprocPlan) -> list[tuple[Variant, int, bytes]]:
    """Each variant called once in process, natively: the variant, its status and its body."""
    prepared = _prepare(plan)
    answers, _ = _drive(plan, {**prepared.spec, "mode": "check"})
    return [(v, answers["first"][str(i)]["status"],
             base64.b64decode(answers["first"][str(i)]["body"]))
            for i, v in enumerate(prepared.variants)]


def run_inproc(plan: InprocPlan) -> InprocResult:
    """Measure every request kind of the plan's scenario in process."""
    prepared = _prepare(plan)
    flat, base = prepared.variants, prepared.spec
    weights = {r.name: r.weight for r in prepared.requests}
    if not plan.instructions:
        pin = ["taskset", "--cpu-list", ",".join(map(str, plan.cores))] if plan.cores else None
        answers, profile = _drive(plan, {**base, "mode": "time", "repeats": plan.repeats,
                                         "min_time_s": plan.min_time_s}, pin, plan.profile_dir)
        _check(flat, answers)
        kinds = {name: KindFigures(weights[name], tuple(answers["samples_us"][name]),
                                   answers["loops"][name]) for name in weights}
        return InprocResult(kinds, False, plan.cores, plan.python, profile)
    valgrind = _valgrind()
    # Natively first: the answers are checked in seconds, and the bytecode caches written.
    _check(flat, _drive(plan, {**base, "mode": "check"})[0])
    cores = tuple(sorted(os.sched_getaffinity(0)))
    with tempfile.TemporaryDirectory(prefix="loadgen-callgrind-") as tmp:
        answers, _ = _drive(plan, {**base, "mode": "count", "kinds": list(weights),
                                   "warmup": plan.workload.variants, "calls": plan.calls,
                                   "parallel": len(cores)},
                            [valgrind, "--tool=callgrind", "--quiet", f"--dump-before={MARK}",
                             f"--callgrind-out-file={tmp}/cg.%p"], preload=ALLOCATOR)
        _check(flat, answers)
        totals = {kind: _counted_calls(Path(tmp), pid) for kind, pid in answers["pids"].items()}
    kinds = {kind: KindFigures(weights[kind], instructions=totals[kind], calls=plan.calls)
             for kind in weights}
    return InprocResult(kinds, True, cores, plan.python)


def plan_for(target: str, app_dir: Path, python: str, workload: ScenarioWorkload,
             **options: Any) -> InprocPlan:
    """A plan for target NAME (NAME_app.py in app_dir)."""
    return InprocPlan(target_app(target, app_dir), app_dir, python, workload, **options)


def render(result: InprocResult) -> str:
    """The figures per request kind, as a table for a terminal."""
    width = max(len(name) for name in result.kinds)
    if result.instructions:
        lines = [f"{'request kind':<{width}}  instructions/request"]
        lines += [f"{name:<{width}}  {k.instructions_per_request:>20,.0f}"
                  for name, k in result.kinds.items()]
        return "\n".join(lines)
    lines = [f"{'request kind':<{width}}  µs/request  spread  calls/sample"]
    lines += [f"{name:<{width}}  {k.us_per_request:>10.2f}  {k.us_spread:>6.1%}  {k.loops:>12}"
              for name, k in result.kinds.items()]
    return "\n".join(lines)
