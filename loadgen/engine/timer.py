"""A precise one-shot timer on the event loop, from Linux's timerfd.

The event loop's own timers have millisecond resolution: a request due between two ticks would
wait for the next one, and that wait, up to 1 ms, would count in corrected latency. A timerfd
armed at an absolute CLOCK_MONOTONIC time (the clock `time.perf_counter_ns` reads on Linux)
becomes readable at that instant, and the loop wakes for it like for any socket. Python has
`os.timerfd_create` only from 3.13, hence ctypes.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections.abc import Callable

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_NS = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(None, use_errno=True)


class PreciseTimer:
    """Calls `callback` on `loop` at the perf_counter_ns instant given to `arm`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        fd = _libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd: int = fd
        self._loop = loop
        self._callback = callback
        self._spec = _Itimerspec()
        self.armed = False
        loop.add_reader(fd, self._fire)

    def arm(self, at_ns: int) -> None:
        """Fire once at `at_ns` (at once if that is past); replaces any earlier arming."""
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(max(at_ns, 1), _NS)
        if _libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None):
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self.armed = True

    def _fire(self) -> None:
        try:
            os.read(self._fd, 8)  # the expiry count; reading it re-arms readiness
        except BlockingIOError:  # disarmed or re-armed since it became readable
            return
        self.armed = False
        self._callback()

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
