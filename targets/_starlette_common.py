"""What the targets built on Starlette (Starlette itself, and FastAPI) share: start-up state
with its lifespan, and form handling."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from _common import MAX_PART_SIZE, State, digest

state = State()


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    state.start(by_lifespan=True)
    yield

# max_part_size arrived in a later release than Starlette 0.30: pass it only where accepted.
_TAKES_PART_SIZE = "max_part_size" in inspect.signature(Request.form).parameters
FORM_OPTIONS: dict[str, Any] = (
    {"max_part_size": MAX_PART_SIZE} if MAX_PART_SIZE and _TAKES_PART_SIZE else {}
)


async def form_digest(request: Request) -> dict[str, object]:
    """Parse the body with the framework's own `request.form()` and digest its parts."""
    form = await request.form(**FORM_OPTIONS)
    parts = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            parts.append((name, await value.read(), True))
        else:
            parts.append((name, value.encode(), False))
    return digest(parts)
