"""NAME=VALUE words from the command line: a scenario's parameters (--param routes=100), the
lists a history sweeps (--param routes=10,100) and the metrics' thresholds (--delta p99=0.2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from loadgen.errors import LoadgenError

T = TypeVar("T")


def parse_assignments(items: Iterable[str], option: str, form: str,
                      value: Callable[[str], T]) -> dict[str, T]:
    """NAME -> `value`(VALUE) for each word; the last one wins for a NAME given twice. A word
    without "=", or one whose VALUE `value` refuses with ValueError, is one line: `option`
    takes `form` (e.g. METRIC=FRACTION), not the word."""
    parsed: dict[str, T] = {}
    for item in items:
        name, sep, text = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            parsed[name] = value(text)
        except ValueError:
            raise LoadgenError(f"{option} takes {form}, not {item!r}") from None
    return parsed


def value_list(text: str) -> list[str]:
    """VALUE[,VALUE...]: the values of a parameter to sweep, at least one."""
    if not text:
        raise ValueError(text)
    return text.split(",")
