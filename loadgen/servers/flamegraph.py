"""Flame graphs as SVG, drawn from a speedscope profile: each box a function, as wide as the
share of samples in which it was on the stack, standing on its caller, the root at the bottom;
a box's tooltip gives its count. speedscope.app reads the profile itself for zoom, search and
time order.
"""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WIDTH = 1200
ROW = 16
MARGIN = 10
HEADER = 40
CHAR_PX = 6.6  # about one character of the 11 px monospace font
NARROWEST_PX = 0.5  # narrower boxes (and all they carry) are left out


def stacks(speedscope: Mapping[str, Any]) -> Counter[tuple[str, ...]]:
    """How many samples had each stack (root first), over every profile of the document:
    the processes and threads py-spy sampled are the stacks' first frames."""
    frames = [_label(frame) for frame in speedscope["shared"]["frames"]]
    counts: Counter[tuple[str, ...]] = Counter()
    for profile in speedscope["profiles"]:
        for sample in profile.get("samples", ()):
            counts[tuple(frames[i] for i in sample)] += 1
    return counts


def _label(frame: Mapping[str, Any]) -> str:
    # By function, not line: one box per function reads better, and the profile keeps lines.
    file = frame.get("file")
    return f"{frame['name']} ({Path(file).name})" if file else str(frame["name"])


@dataclass
class _Node:
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def render(counts: Counter[tuple[str, ...]], title: str) -> str:
    """The flame graph of `counts` as a standalone SVG document."""
    root = _Node()
    for stack, n in counts.items():
        node = root
        node.count += n
        for name in stack:
            node = node.children.setdefault(name, _Node())
            node.count += n
    depth = 1 + max(map(len, counts), default=0)
    height = HEADER + depth * ROW + MARGIN
    scale = (WIDTH - 2 * MARGIN) / root.count if root.count else 0.0
    boxes = "\n".join(_boxes("all", root, root.count, MARGIN, height - MARGIN - ROW, scale))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">\n'
            f'<rect width="100%" height="100%" fill="#fafafa"/>\n'
            f'<text x="{WIDTH / 2}" y="18" font-size="15" text-anchor="middle">'
            f'{html.escape(title)}</text>\n'
            f'<text x="{WIDTH / 2}" y="33" text-anchor="middle">{root.count:,} samples; '
            f'hover a box for its count</text>\n{boxes}\n</svg>\n')


def _boxes(name: str, node: _Node, total: int, x: float, y: float,
           scale: float) -> Iterator[str]:
    width = node.count * scale
    if width < NARROWEST_PX:
        return
    share = node.count / total if total else 0.0
    fits = int((width - 6) / CHAR_PX)
    text = name if len(name) <= fits else name[:fits - 2] + ".." if fits >= 4 else ""
    yield (f'<g><title>{html.escape(name)}: {node.count:,} samples ({share:.1%})</title>'
           f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" rx="2" '
           f'fill="{_colour(name)}"/>'
           + (f'<text x="{x + 3:.1f}" y="{y + ROW - 4}">{html.escape(text)}</text>'
              if text else "") + "</g>")
    for child_name in sorted(node.children):  # alphabetical, as flame graphs are: not time
        child = node.children[child_name]
        yield from _boxes(child_name, child, total, x, y - ROW, scale)
        x += child.count * scale


def _colour(name: str) -> str:
    """A warm colour that depends on the function only, so it is the same in every graph."""
    digest = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    return f"rgb({205 + digest[0] % 50},{digest[1] % 230},{digest[2] % 55})"
