"""Whether a response is correct: one verifier for the preflight and for sampled checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Expectation:
    """A check made concrete for one encoded variant (the digest of its own body)."""

    status: tuple[int, ...]
    contains: bytes | None = None
    json: Mapping[str, Any] | None = None


def verify(expect: Expectation, status: int, body: bytes) -> str | None:
    """None if the response is correct, else what was wrong, in a few words."""
    if status not in expect.status:
        wanted = " or ".join(map(str, expect.status))
        return f"status {status}, expected {wanted}"
    if not 200 <= status < 300:  # the body checks describe a successful answer
        return None
    if expect.contains is not None and expect.contains not in body:
        return f"body lacks {expect.contains[:40]!r}"
    if expect.json is not None:
        try:
            answer = json.loads(body)
        except ValueError:
            return f"body is not JSON: {body[:60]!r}"
        if not isinstance(answer, dict):
            return f"JSON is not an object: {body[:60]!r}"
        for key, value in expect.json.items():
            if answer.get(key) != value:
                return f"JSON {key} is {answer.get(key)!r}, expected {value!r}"
    return None
