"""Where results go: checked before any load runs, written whole or not at all, and never lost.

A run can take minutes and cannot be repeated exactly, so a path that cannot take its result is
refused before the load starts, in one line naming the option. If writing still fails at the
end (the disk filled, the folder went away), the result goes to a rescue file in the system's
temporary folder and the error says where.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from loadgen.errors import LoadgenError


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_file(path: Path, option: str) -> None:
    """Refuse, naming `option`, a file path that could not be written: a folder, under a
    file, or in a folder this process cannot write in."""
    if path.is_dir():
        raise LoadgenError(f"{option} {path}: is a folder; give a file name")
    check_folder(path.parent, option, path)


def check_folder(folder: Path, option: str, shown: Path | None = None) -> None:
    """Refuse, naming `option`, a folder that could not be made or written in."""
    existing = _nearest_existing(folder.absolute())
    shown = shown or folder
    if not existing.is_dir():
        raise LoadgenError(f"{option} {shown}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LoadgenError(f"{option} {shown}: cannot write in {existing}")


def write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a file; nothing is left behind when
    either step fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def save(path: Path, text: str, option: str) -> Path:
    """Write `text` to `path`; where that fails, to a rescue file in the temporary folder.
    Returns `path`, or raises LoadgenError saying why it failed and where the text went."""
    try:
        write_atomically(path, text)
        return path
    except OSError as exc:
        reason = exc.strerror or str(exc)
    fd, rescue = tempfile.mkstemp(prefix="loadgen-", suffix=f"-{path.name}")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    raise LoadgenError(f"cannot write {option} {path}: {reason}; it is in {rescue} instead")
