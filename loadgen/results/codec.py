"""Records as JSON, by their fields: a dataclass whose fields are named as its JSON keys reads
and writes itself (Record.to_json, Record.from_json), nested records, tuples, dicts, paths and
optional values included. So a file's shape is spelt out once, in its record's fields, for the
writer and every reader alike.

Reading is strict: a key missing, a key the record does not have, or a value of another type is
refused naming the key, so a writer that drifts from its record fails at once. A document of
an older schema version is read `lenient`: a key it lacks takes the field's default (the
record's comment says what that default meant then), a key since dropped is ignored.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal, Self, Union, cast, get_args, get_origin, get_type_hints

# A field with this metadata is left out of the JSON while it is None, and None when its key is
# missing: readers of the trial files tell a failed trial by its `error` key, a paired one by its
# `pair` key.
OMITTED_WHEN_NONE = {"omit": True}

# A field's own reader, in its metadata under "read", where its type alone does not say how to
# read it (a union of records): (data, where, lenient) -> value.
Reader = Callable[[Any, str, bool], Any]


class Record:
    """A mixin for frozen dataclasses: JSON by their fields."""

    def to_json(self) -> dict[str, Any]:
        return cast(dict[str, Any], encode(self))

    @classmethod
    def from_json(cls, data: Any, lenient: bool = False) -> Self:
        """Raises ValueError naming the key that does not fit."""
        return cast(Self, decode(cls, data, "", lenient))


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(v) for f in dataclasses.fields(value)
                if not ((v := getattr(value, f.name)) is None and f.metadata.get("omit"))}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


@cache
def _hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)


def _expect(kind: type, data: Any, where: str) -> Any:
    # bool is an int to Python, not to JSON's readers: true is no count.
    if not isinstance(data, kind) or (isinstance(data, bool) and kind is not bool):
        raise ValueError(f"{where or 'the document'}: {data!r} is not {_NAMES.get(kind, kind)}")
    return data


_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a whole number",
          bool: "true or false"}


def decode(kind: Any, data: Any, where: str = "", lenient: bool = False) -> Any:
    """`data` (parsed JSON) as a value of type `kind`."""
    origin, args = get_origin(kind), get_args(kind)
    if kind is Any:
        return data
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))  # X | None; records use `read`
        return decode(inner, data, where, lenient)
    if dataclasses.is_dataclass(kind):
        return _record(cast(type, kind), data, where, lenient)
    if origin is tuple:
        items = _expect(list, data, where)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(items)
        if len(items) != len(args):
            raise ValueError(f"{where}: {len(items)} values, not {len(args)}")
        return tuple(decode(a, x, f"{where}[{i}]", lenient)
                     for i, (a, x) in enumerate(zip(args, items, strict=True)))
    if origin is dict:
        return {k: decode(args[1], v, f"{where}.{k}", lenient)
                for k, v in _expect(dict, data, where).items()}
    if origin is Literal:
        if data not in args:
            raise ValueError(f"{where}: {data!r} is not one of {', '.join(map(repr, args))}")
        return data
    if kind is Path:
        return Path(_expect(str, data, where))
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValueError(f"{where}: {data!r} is not a number")
        return data
    if kind in (int, str, bool):
        return _expect(kind, data, where)
    raise TypeError(f"{where}: no JSON reading for {kind!r}")


def _record(kind: type, data: Any, where: str, lenient: bool) -> Any:
    mapping = _expect(dict, data, where)
    fields = dataclasses.fields(kind)
    unknown = sorted(set(mapping) - {f.name for f in fields})
    if unknown and not lenient:
        raise ValueError(f"{where or 'the document'}: unknown key {unknown[0]!r}")
    values = {}
    for f in fields:
        at = f"{where}.{f.name}" if where else f.name
        if f.name not in mapping:
            has_default = (f.default is not dataclasses.MISSING
                           or f.default_factory is not dataclasses.MISSING)
            if f.metadata.get("omit") or (lenient and has_default):
                continue
            raise ValueError(f"{where or 'the document'}: no key {f.name!r}")
        reader: Reader | None = f.metadata.get("read")
        values[f.name] = (reader(mapping[f.name], at, lenient) if reader is not None
                          else decode(_hints(kind)[f.name], mapping[f.name], at, lenient))
    return kind(**values)
