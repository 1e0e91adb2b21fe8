"""The workload a command asks for: GET one path, or a scenario with its --param values; and
the built-in scenarios there are to choose from."""

from __future__ import annotations

from collections.abc import Iterable

from loadgen.errors import LoadgenError
from loadgen.workloads.assignments import parse_assignments
from loadgen.workloads.scenario import builtin_names, load_scenario
from loadgen.workloads.workload import ScenarioWorkload, UrlWorkload, Workload


def scenario_workload(scenario: str, params: Iterable[str], variants: int, seed: int
                      ) -> ScenarioWorkload:
    """Scenario SCENARIO (built in, or a file) with its NAME=VALUE parameters."""
    chosen = load_scenario(scenario)
    given = parse_assignments(params, "--param", "NAME=VALUE", str)
    return ScenarioWorkload(chosen, chosen.resolve(given), variants, seed)


def choose_workload(path: str, scenario: str | None, params: tuple[str, ...], variants: int,
                    seed: int) -> Workload:
    """GET `path`; or, with `scenario`, its requests (then the path must be left at the root:
    the scenario names its own paths)."""
    if scenario is None:
        if params:
            raise LoadgenError("--param goes with --scenario")
        return UrlWorkload(path)
    if path not in ("/", "/plaintext"):
        raise LoadgenError("give either a path or --scenario: the scenario names its paths")
    return scenario_workload(scenario, params, variants, seed)


def scenario_lines() -> list[str]:
    """Each built-in scenario, with its parameters' defaults and what they mean."""
    lines = []
    for name in builtin_names():
        scenario = load_scenario(name)
        lines.append(f"{name}: {scenario.description}")
        for param, spec in scenario.params.items():
            sets = f" (sets the target's {spec.target_env})" if spec.target_env else ""
            lines.append(f"    {param}={spec.default}  {spec.help}{sets}")
    return lines
