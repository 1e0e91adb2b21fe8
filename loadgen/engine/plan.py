"""What a worker is given: its plan, and the hooks it calls back."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loadgen.results.measured import Interval
from loadgen.workloads.profile import LoadProfile, Share
from loadgen.workloads.request import Endpoint, RequestTemplate


@dataclass(frozen=True)
class Load:
    """One load: what it sends, where, and how; the workers each take a share of it."""

    endpoint: Endpoint
    templates: tuple[RequestTemplate, ...]
    profile: LoadProfile
    target: str = ""  # what the result names (default: the endpoint's URL)
    mix: tuple[int, ...] = ()  # the order of template indices to cycle through; () is in order
    check_every: int = 100  # check every Nth response of the mix in full; 0 never
    # Closed loop by flows: (scenario file, parameter values); loaded again in each worker
    # process, since a function from a file loaded by path does not pickle.
    flow: tuple[str, tuple[tuple[str, Any], ...]] | None = None


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker does: its share of the load's connections and of its schedule."""

    load: Load
    connections: int
    share: Share = field(default_factory=Share)


StartGate = Callable[[], Awaitable[float]]
IntervalSink = Callable[[Interval], None]


async def start_now() -> float:
    return time.time()
