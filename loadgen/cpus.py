"""CPU pinning: the server and the generator on disjoint cores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from loadgen.errors import LoadgenError


def available() -> tuple[int, ...]:
    return tuple(sorted(os.sched_getaffinity(0)))


def parse(text: str) -> tuple[int, ...]:
    """Cores from '1', '0,2' or '2-3'; each must be one this process may use."""
    cores: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cores.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise LoadgenError(f"not a CPU list: {text!r} (use e.g. 1 or 0,2-3)") from None
    unknown = cores - set(available())
    if unknown or not cores:
        raise LoadgenError(f"CPU list {text!r} names cores not available here: "
                           f"{sorted(unknown)}; available: {format_cores(available())}")
    return tuple(sorted(cores))


def split(generator_cores: int = 1) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(server cores, generator cores): the generator takes the last cores, the server the rest.

    With a single core there is nothing to split and both get it.
    """
    cores = available()
    if len(cores) <= generator_cores:
        return cores, cores
    return cores[:-generator_cores], cores[-generator_cores:]


def format_cores(cores: tuple[int, ...]) -> str:
    return ",".join(map(str, cores))


@contextmanager
def pinned(cores: tuple[int, ...]) -> Iterator[None]:
    """The calling thread on `cores` for the block; a process started in it inherits them."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
