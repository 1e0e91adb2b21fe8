"""What loadgen can start here: the servers it has launchers for and the targets in targets/,
and whether each one's package is installed."""

from __future__ import annotations

from loadgen.servers.launchers import LAUNCHERS, installed, target_names

# The package a target's app needs, where it is not the target's name: raw speaks ASGI itself
# and parses forms with python-multipart.
FRAMEWORKS = {"raw": "python_multipart"}


def server_lines() -> list[str]:
    lines = []
    for name, launch in LAUNCHERS.items():
        state = "installed" if installed(launch.module) else "not installed"
        lifespan = "lifespan" if launch.lifespan else "no lifespan"
        lines.append(f"{name:<13} {state:<14} {lifespan:<12} serves {', '.join(launch.protocols)}")
    return lines


def target_lines() -> list[str]:
    lines = []
    for name in target_names():
        state = "installed" if installed(FRAMEWORKS.get(name, name)) else "not installed"
        lines.append(f"{name:<13} {state:<14} targets/{name}_app.py")
    return lines
