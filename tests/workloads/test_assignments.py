"""NAME=VALUE words: one parser for --param and --delta, each word's value made and checked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loadgen.errors import LoadgenError
from loadgen.workloads.assignments import parse_assignments, value_list


def test_each_word_is_a_name_and_its_value() -> None:
    assert parse_assignments(["routes=100", "depth=", "routes=10"], "--param", "NAME=VALUE",
                             str) == {"routes": "10", "depth": ""}
    assert parse_assignments(["p99=0.2"], "--delta", "METRIC=FRACTION", float) == {"p99": 0.2}
    assert parse_assignments(["routes=10,100"], "--param", "NAME=VALUE[,VALUE...]",
                             value_list) == {"routes": ["10", "100"]}


@pytest.mark.parametrize(("word", "option", "form", "value"), [
    ("routes", "--param", "NAME=VALUE", str),
    ("routes=", "--param", "NAME=VALUE[,VALUE...]", value_list),
    ("p99", "--delta", "METRIC=FRACTION", float),
    ("p99=lots", "--delta", "METRIC=FRACTION", float),
])
def test_a_word_that_is_not_one_is_one_line(word: str, option: str, form: str,
                                            value: Callable[[str], object]) -> None:
    with pytest.raises(LoadgenError) as caught:
        parse_assignments([word], option, form, value)
    assert str(caught.value) == f"{option} takes {form}, not {word!r}"
