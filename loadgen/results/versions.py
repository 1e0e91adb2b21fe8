"""The schema version of every file loadgen writes (a trial, `run --json` and `inproc --json`,
a history's points.json, confirmed.json and accepted.json), in one place, and the one check
every reader makes.

Version 2 is what each file's record (loadgen.results.model, .figures, .history) writes. Version
1 files still read: the figures added while the version stayed 1 take their fields' defaults.
Before version 2 the list files were bare JSON lists and `run --json` carried no version: both
read as version 1. Any other version is refused in one line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from loadgen.errors import LoadgenError
from loadgen.results.codec import Record
from loadgen.results.output import write_atomically

SCHEMA_VERSION = 2
READABLE = (1, 2)
T = TypeVar("T")
R = TypeVar("R", bound=Record)


def stamped(document: dict[str, Any]) -> dict[str, Any]:
    """The document with this loadgen's schema version first."""
    return {"schema_version": SCHEMA_VERSION, **document}


def json_text(document: dict[str, Any], indent: int = 1) -> str:
    return json.dumps(stamped(document), indent=indent) + "\n"


def read(path: Path, what: str, decode: Callable[[Any, bool], T]) -> T:
    """The file at `path` as `decode(document, lenient)` makes it (lenient for version 1), the
    version's key taken out. Refused in one line naming the file: one that does not parse, of a
    version this loadgen does not read, or not `what` it should be."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LoadgenError(f"cannot read {path}: {exc}") from None
    version = 1
    if isinstance(document, dict):
        version = document.pop("schema_version", 1)
    if isinstance(version, bool) or version not in READABLE:  # true == 1 to Python
        raise LoadgenError(f"{path}: schema version {version!r}; this loadgen reads versions "
                           f"{' and '.join(map(str, READABLE))}")
    try:
        return decode(document, version == 1)
    except ValueError as exc:
        raise LoadgenError(f"{path}: not {what} of schema version {version}: {exc}") from None


def read_list(path: Path, key: str, kind: type[R]) -> list[R]:
    """A list file: {"schema_version": 2, KEY: [...]}, or (version 1) the bare list."""

    def decode(document: Any, lenient: bool) -> list[R]:
        items = document if isinstance(document, list) and lenient else (
            document.get(key) if isinstance(document, dict) else None)
        if not isinstance(items, list):
            raise ValueError(f"no list {key!r}")
        return [kind.from_json(item, lenient) for item in items]

    return read(path, f"a list of {key}", decode)


def write_list(path: Path, key: str, items: Iterable[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json_text({key: [item.to_json() for item in items]}))
