"""Work that runs after the ack: every task kept (none dropped mid-flight) and started only
once Slack has its answer, so no network call ever delays an acknowledgement."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, object]

_held: ContextVar[list[Work] | None] = ContextVar("sfvopi_after_ack", default=None)


class Background:
    """A task set that holds a reference to every task until it ends, and logs failures."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    def spawn(self, work: Work, *, name: str | None = None) -> None:
        """Runs now, or right after the ack when called while a Slack request is being answered."""
        held = _held.get()
        if held is not None:
            held.append(work)
        else:
            self._start(work, name)

    def _start(self, work: Work, name: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    @contextlib.contextmanager
    def holding(self) -> Iterator[list[Work]]:
        """Collects the work spawned while answering one request; `release` starts it."""
        held: list[Work] = []
        token = _held.set(held)
        try:
            yield held
        finally:
            _held.reset(token)

    def release(self, held: list[Work]) -> None:
        for work in held:
            self._start(work)
        held.clear()

    async def settle(self, timeout: float = 10.0) -> None:
        """Waits until all work, including work it started in turn, has finished."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("background work did not finish")
            await asyncio.wait(set(self.tasks), timeout=remaining)

    async def drain(self, timeout: float = 10.0) -> None:
        """Waits for work in flight (on shutdown), then cancels what is left."""
        if self.tasks:
            _done, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
            for task in pending:
                task.cancel()
