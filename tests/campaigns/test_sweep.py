"""The sweep planner: history's and bisect's options read into a plan, --param lists swept."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.campaigns.options import SubjectOptions
from loadgen.campaigns.sweep import plan_sweep
from loadgen.errors import LoadgenError
from loadgen.results.history import Point

POINTS = [Point("version", key, key, f"starlette=={key}") for key in ("1.0", "1.1")]


def options(**given: Any) -> SubjectOptions:
    return SubjectOptions(**{"target": "starlette", "scenario_names": ("routing",), **given})


def test_each_combination_of_the_values_is_a_scenario_entry() -> None:
    plan = plan_sweep(options(params=("routes=10,100",)), "starlette==1.0..1.1", POINTS)
    assert [s.label for s in plan.scenarios] == ["routing(routes=10)", "routing(routes=100)"]
    assert [s.params for s in plan.scenarios] == [(("routes", "10"),), (("routes", "100"),)]
    assert plan.points == tuple(POINTS) and plan.app == "starlette" and plan.rounds == 3
    assert plan.load == {"connections": 16, "duration": "5s", "warmup": "1s", "rate": 2000}


def test_a_rate_of_0_is_closed_loop_and_the_target_defaults_to_the_subject() -> None:
    plan = plan_sweep(options(target=None, rate=0), "starlette==1.0..1.1", POINTS)
    assert "rate" not in plan.load and plan.app == "starlette"
    assert [s.label for s in plan.scenarios] == ["routing"]


def test_with_several_scenarios_a_parameter_is_the_one_scenario_s_that_has_it() -> None:
    plan = plan_sweep(options(scenario_names=("routing", "plaintext"), params=("routes=5",)),
                      "starlette==1.0", POINTS)
    assert [s.label for s in plan.scenarios] == ["routing(routes=5)", "plaintext"]


@pytest.mark.parametrize(("given", "message"), [
    ({"params": ("routes",)}, r"--param takes NAME=VALUE\[,VALUE\.\.\.\], not 'routes'"),
    ({"params": ("nope=1",)}, "scenario routing has no parameter 'nope'"),
    ({"target": "nope"}, "unknown target 'nope'"),
    ({"workers": 0}, "--workers must be at least 1"),
    ({"rounds": 1}, "rounds must be at least 2"),
])
def test_what_cannot_be_planned_is_one_line(given: dict[str, Any], message: str) -> None:
    with pytest.raises(LoadgenError, match=message):
        plan_sweep(options(**given), "starlette==1.0", POINTS)
