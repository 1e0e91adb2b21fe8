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
class WorkerPlan:
    """What one worker does: its share of the connections and of the schedule."""

    endpoint: Endpoint
    templates: tuple[RequestTemplate, ...]
    profile: LoadProfile
    connections: int
    share: Share = field(default_factory=Share)
    mix: tuple[int, ...] = ()  # the order of template indices to cycle through; () is in order
    check_every: int = 100  # check every Nth response of the mix in full; 0 never
    # Closed loop by flows: (scenario file, parameter values); loaded again in each worker
    # process, since a function from a file loaded by path does not pickle.
    flow: tuple[str, tuple[tuple[str, Any], ...]] | None = None


StartGate = Callable[[], Awaitable[float]]
IntervalSink = Callable[[Interval], None]


async def start_now() -> float:
    return time.time()
