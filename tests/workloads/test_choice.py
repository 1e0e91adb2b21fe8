"""The workload a command asks for, and the list of the built-in scenarios."""

from __future__ import annotations

import pytest

from loadgen.errors import LoadgenError
from loadgen.workloads.choice import choose_workload, scenario_lines
from loadgen.workloads.scenario import builtin_names
from loadgen.workloads.workload import ScenarioWorkload, UrlWorkload


def test_a_path_or_a_scenario_with_its_parameters() -> None:
    assert choose_workload("/json", None, (), 16, 0) == UrlWorkload("/json")
    chosen = choose_workload("/", "routing", ("routes=10",), 4, 1)
    assert isinstance(chosen, ScenarioWorkload)
    assert chosen.values["routes"] == 10 and (chosen.variants, chosen.seed) == (4, 1)


@pytest.mark.parametrize(("path", "scenario", "params", "message"), [
    ("/", None, ("routes=10",), "--param goes with --scenario"),
    ("/json", "routing", (), "give either a path or --scenario"),
    ("/", "routing", ("routes",), "--param takes NAME=VALUE, not 'routes'"),
])
def test_what_cannot_be_meant_is_one_line(path: str, scenario: str | None,
                                          params: tuple[str, ...], message: str) -> None:
    with pytest.raises(LoadgenError, match=message):
        choose_workload(path, scenario, params, 16, 0)


def test_every_built_in_scenario_is_listed_with_its_parameters() -> None:
    lines = scenario_lines()
    assert [line.split(":")[0] for line in lines if not line.startswith(" ")] == builtin_names()
    assert any(line.startswith("    routes=") for line in lines)
