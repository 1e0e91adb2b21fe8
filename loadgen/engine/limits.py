"""What the operating system lets a run open, checked before it opens anything.

Without the check, `--connections 200000` opened about 20,000 sockets over 23 s and 910 MB
before the first "Too many open files".
"""

from __future__ import annotations

import resource
from pathlib import Path

from loadgen.errors import LoadgenError

# Besides its connections a generator process holds the event loop's, the timer's, pipes to
# its parent and a few files.
MARGIN = 64
PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def local_ports() -> int | None:
    """How many local ports connections to one address can use (None where unknown)."""
    try:
        low, high = (int(v) for v in PORT_RANGE.read_text().split())
    except (OSError, ValueError):
        return None
    return high - low + 1


def ensure_open_files(connections: int, total: int) -> None:
    """Make room for `connections` sockets in this process (and in the worker processes it
    starts, which inherit the limit), `total` over all of them: raise the soft limit of open
    files up to the hard one where needed; refuse in one line what cannot fit."""
    ports = local_ports()
    if ports is not None and total > ports:
        raise LoadgenError(f"--connections {total}: one address takes at most {ports:,} "
                           f"connections from this machine (its local ports, {PORT_RANGE})")
    need = connections + MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if need <= soft:
        return
    if hard != resource.RLIM_INFINITY and need > hard:
        raise LoadgenError(f"--connections {total}: a process needs about {need:,} open files "
                           f"and may have {hard:,} (ulimit -Hn); use fewer connections, or "
                           f"more --processes")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
