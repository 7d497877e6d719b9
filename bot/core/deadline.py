"""How long the task in hand may wait for a lock: a slash command's write must not outwait
Slack (3 s), so the front door sets a deadline (bot/slack/admission.py) and the store's lock
wait honours it (bot/store/database.py). Only the task that set it is bound: the follow-up
work it starts (card posts, executions, sweeps) may still wait as long as the store allows."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["remaining", "until"]

_deadline: ContextVar[tuple[asyncio.Task[object] | None, float] | None] = ContextVar(
    "sfvopi_deadline", default=None
)


def _task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


@contextlib.contextmanager
def until(at: float) -> Iterator[None]:
    """Bounds the current task's lock waits until `at` (a time.perf_counter() value)."""
    token = _deadline.set((_task(), at))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # closed by the collector in another context
            _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left to the current task's deadline (<= 0: passed); None: it has none."""
    bound = _deadline.get()
    if bound is None or bound[0] is not _task():
        return None
    return bound[1] - time.perf_counter()
