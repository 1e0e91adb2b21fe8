"""Late sends judged against the machine's pauses: a send the pause held back, or one due in the
catch-up after it, is the pause's; a send late anywhere else is the generator's own."""

from __future__ import annotations

from loadgen.engine.lateness import LateSends, with_catch_up
from loadgen.engine.pauses import Pause

MS = 1_000_000
PAUSE = Pause(1000 * MS, 1300 * MS, 300 * MS)  # 300 ms held still


def judged(*sends: tuple[float, float]) -> LateSends:
    """Late sends given as (since, sent) in ms, judged against PAUSE."""
    late = LateSends()
    for since, sent in sends:
        late.late(int(since * MS), int(sent * MS))
    late.fold(10_000 * MS, [PAUSE])
    return late


def test_the_pause_and_its_catch_up_are_the_pauses() -> None:
    late = judged((1100, 1306),  # due in the pause, sent in the burst after it
                  (1302, 1310),  # due after it, behind the burst: 8 ms late
                  (1590, 1597))  # due near the catch-up's end, sent just after it
    assert (late.own, late.in_pause) == (0, 3)


def test_late_outside_the_pause_and_its_catch_up_is_the_generators() -> None:
    late = judged((500, 507),  # before the pause
                  (1650, 1657),  # after the catch-up (300 ms after the pause's end)
                  (1595, 1607))  # 12 ms late, of which 7 ms past the catch-up's end
    assert (late.own, late.in_pause) == (3, 0)


def test_catch_ups_that_meet_merge() -> None:
    second = Pause(1400 * MS, 1450 * MS, 50 * MS)
    merged = with_catch_up([PAUSE, second])
    assert merged == [Pause(1000 * MS, 1600 * MS, 350 * MS)]
    assert with_catch_up([second]) == [Pause(1400 * MS, 1500 * MS, 50 * MS)]
