"""Configuration tables checked against their schema, in one place: an unknown key (a typo
such as `durration` once ran the default in silence) gets a near miss suggested; a wrong type,
a number that is not finite or is out of range, is one line naming the key."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadgen.errors import LoadgenError


@dataclass(frozen=True)
class Key:
    """What a key takes: these types (a bool is no int here), numbers at least `low`, or
    above it when `strict`."""

    types: tuple[type, ...]
    low: float | None = None
    strict: bool = False

    def describe(self) -> str:
        names = {bool: "true or false", int: "a whole number", float: "a number",
                 str: "a string", list: "a list", dict: "a table"}
        types = [t for t in self.types if not (t is int and float in self.types)]
        kind = " or ".join(names[t] for t in types)
        if self.low is None:
            return kind
        return f"{kind} {'above' if self.strict else 'at least'} {self.low:g}"


TEXT = Key((str,))
TABLE = Key((dict,))
LIST = Key((list,))
FLAG = Key((bool,))
DURATION = Key((str, int, float))  # "5s", "500ms", or seconds
POSITIVE = Key((int, float), 0, strict=True)


def at_least(low: int) -> Key:
    return Key((int,), low)


def check(table: Mapping[str, Any], schema: Mapping[str, Key], where: str) -> None:
    """Refuse, naming `where` and the key, what `table` holds that `schema` does not allow."""
    for name, value in table.items():
        key = schema.get(name)
        if key is None:
            near = difflib.get_close_matches(name, list(schema), n=1)
            hint = (f"; did you mean {near[0]!r}?" if near
                    else f"; it takes {', '.join(sorted(schema))}")
            raise LoadgenError(f"{where}: unknown key {name!r}{hint}")
        if not _fits(value, key):
            raise LoadgenError(f"{where}: {name} must be {key.describe()}, not {value!r}")


def _fits(value: Any, key: Key) -> bool:
    if isinstance(value, bool) and bool not in key.types:
        return False
    if not isinstance(value, key.types):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if key.low is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value > key.low if key.strict else value >= key.low
    return True
