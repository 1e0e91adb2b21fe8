"""Late sends, judged against the machine's pauses once the watchdog has seen them: a send
late by over LATE_NS is the generator's own fault unless a pause covers all but LATE_NS of it,
and one that waited for a busy connection is the server's pushback unless it fell due inside a
pause. A pause is followed by its catch-up, as long again: the sends it held back go out in a
burst, and those due meanwhile wait behind them (a 300 ms SIGSTOP at 500 req/s left 150 sends
to make at once, and 33 sends due after it more than 5 ms late). A generator that cannot catch
up within the pause's length again is late outside it too, and is told. Recorded on the hot
path as (since, sent) pairs, rarely; judged off it."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable

from loadgen.engine.pauses import Pause, overlap_ns
from loadgen.results import histogram
from loadgen.results.measured import LATE_NS


class LateSends:
    """The late and the waiting sends of one worker, and what they were judged to be; and the
    generator's lag on every send (µs since the request was due and a connection free)."""

    def __init__(self) -> None:
        self.lag = array("q")
        self.lag_histogram = histogram.new_histogram()
        # (since, sent) of late sends and (due, sent) of those that waited for a connection,
        # still to be judged against the pauses
        self._late, self._waits = array("q"), array("q")
        self.own = self.in_pause = self.waited_in_pause = 0

    def late(self, since: int, sent: int) -> None:
        self._late.append(since)
        self._late.append(sent)

    def waited(self, due: int, sent: int) -> None:
        self._waits.append(due)
        self._waits.append(sent)

    def fold(self, upto: int, pauses: list[Pause]) -> None:
        """Fold the lags into their histogram, and judge the sends made before `upto` (the
        watchdog has seen every pause until then)."""
        histogram.record_all(self.lag_histogram, self.lag)
        del self.lag[:]
        self._late, own, paused = _split(self._late, upto, pauses, _own_lateness)
        self.own += own
        self.in_pause += paused
        self._waits, _, paused = _split(self._waits, upto, pauses, _due_outside)
        self.waited_in_pause += paused


def _split(pairs: array[int], upto: int, pauses: list[Pause],
           rule: Callable[[int, int, list[Pause]], bool]) -> tuple[array[int], int, int]:
    """(the pairs (first, sent) sent after `upto`, still pending; how many of the others
    `rule` holds for, given the pauses; how many it does not). Off the hot path but not free:
    a server that pushes back makes every send a pair, so with no pause about (the usual case)
    nothing is looped over. `rule` must hold where no pause touches a pair."""
    done = bisect_right(pairs[1::2], upto)  # sends are made in time order
    judged, pending = pairs[:2 * done], pairs[2 * done:]
    earliest = min(judged[0::2], default=upto)
    near = [p for p in with_catch_up(pauses) if p.end_ns > earliest]
    if not near:
        return pending, done, 0
    yes = sum(rule(judged[i], judged[i + 1], near) for i in range(0, len(judged), 2))
    return pending, yes, done - yes


def with_catch_up(pauses: list[Pause]) -> list[Pause]:
    """Each pause followed by its catch-up (as long again), overlapping ones merged."""
    merged: list[Pause] = []
    for pause in pauses:
        end = pause.end_ns + pause.length_ns
        if merged and pause.start_ns <= merged[-1].end_ns:
            last = merged[-1]
            merged[-1] = Pause(last.start_ns, max(last.end_ns, end),
                               last.length_ns + pause.length_ns)
        else:
            merged.append(Pause(pause.start_ns, end, pause.length_ns))
    return merged


def _own_lateness(since: int, sent: int, pauses: list[Pause]) -> bool:
    """A late send is the generator's own unless pauses (and their catch-up) cover all but
    LATE_NS of it."""
    return sent - since - overlap_ns(pauses, since, sent) > LATE_NS


def _due_outside(due: int, _: int, pauses: list[Pause]) -> bool:
    """A send that waited for a connection is the server's pushback unless it fell due inside
    a pause or its catch-up (the backlog a pause leaves is no sign of a slow server)."""
    return not overlap_ns(pauses, due, due + 1)
