"""`loadgen inproc` as asked: its options read into a plan, checked (where the results go, too)
before anything runs, and run; then its figures, its profile and where its result went said."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from loadgen.cpus import format_cores, split
from loadgen.inproc.measure import CALLS, InprocResult, plan_for, render, run_inproc
from loadgen.results.output import check_file, check_folder, save
from loadgen.servers.envs import environment
from loadgen.servers.launchers import TARGETS_DIR
from loadgen.workloads.choice import scenario_workload


@dataclass(frozen=True, kw_only=True)
class InprocOptions:
    """The inproc command's options: each field's default is its option's, and the text in
    its Annotated type is its option's help."""

    target: Annotated[str, "The app NAME_app.py (in targets/ or --app-dir)."]
    app_dir: Annotated[Path | None, "Where NAME_app.py lives, if not in targets/."] = None
    packages: Annotated[tuple[str, ...], "Build the target's environment with these (e.g. "
                                         "starlette==0.30.0); default: loadgen's own."] = ()
    scenario: Annotated[str, "A built-in scenario or a file."]
    params: tuple[str, ...] = ()  # NAME=VALUE
    kinds: Annotated[tuple[str, ...], "Only this request kind of the scenario (again for "
                                      "more)."] = ()
    instructions: Annotated[bool, "Count CPU instructions per request under callgrind, "
                                  "instead of timing."] = False
    calls: Annotated[int, "With --instructions: the calls counted per request kind, after "
                          "each variant's first call and a round of them."] = CALLS
    repeats: Annotated[int, "Timed samples per request kind."] = 10
    variants: Annotated[int, "Pre-encoded variants of each scenario request."] = 16
    json_path: Annotated[Path | None, "Write the result."] = None
    profile_dir: Annotated[Path | None, "Sample the timed driver with py-spy; write "
                                        "inproc.flame.svg and inproc.speedscope.json into "
                                        "this folder."] = None


def measure_kinds(options: InprocOptions, say: Callable[[str], None],
                  warn: Callable[[str], None]) -> InprocResult:
    """Each request kind's cost in process, timed on the server's cores (as a served run would
    have the app) or counted under callgrind: what runs where said first, then the figures,
    the profile and the result written where asked."""
    if options.json_path is not None:
        check_file(options.json_path, "--json")
    if options.profile_dir is not None:
        check_folder(options.profile_dir, "--profile")
    directory = (options.app_dir or TARGETS_DIR).resolve()
    python = environment(options.packages, "inproc") if options.packages else sys.executable
    workload = scenario_workload(options.scenario, options.params, options.variants, 0)
    cores, _ = split()
    plan = plan_for(options.target, directory, python, workload,
                    instructions=options.instructions, calls=options.calls,
                    repeats=options.repeats, cores=cores, kinds=options.kinds,
                    profile_dir=options.profile_dir)
    say(f"{workload.label} in process on {options.target} ({python}); "
        + ("callgrind on every core, PYTHONHASHSEED=0, jemalloc" if options.instructions
           else f"driver on core(s) {format_cores(cores)}"))
    result = run_inproc(plan)
    say(render(result))
    if result.py_spy is not None and result.py_spy.problem:
        warn(f"no profile: {result.py_spy.problem}")
    elif result.py_spy is not None:
        say(f"profile: {result.py_spy.flamegraph} and {result.py_spy.speedscope} "
            f"({result.py_spy.samples} samples)")
    if options.json_path is not None:
        say(f"wrote {save(options.json_path, result.json_text(), '--json')}")
    return result
