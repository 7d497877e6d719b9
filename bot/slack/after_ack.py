"""Work that runs after the ack: every task kept (none dropped mid-flight), and work a Slack
listener starts is started only once Slack has its answer, so no network call ever delays an
acknowledgement.

The front door makes one `AfterAck` per Slack request and hands it down explicitly: to Bolt in
the request's context (listeners read it with `after_ack_of`), from there to the workflow
(`Workflow.answering`) and so to every listener of a change. The door releases it once the ack
is written (or could not be); work added after that starts at once, so none is ever left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from bot.core.workflow.shared import Deferral

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, object]

# the key of the request's AfterAck in Bolt's context (AsyncBoltContext is a dict)
AFTER_ACK = "sfvopi_after_ack"


class Background:
    """A task set that holds a reference to every task until it ends, and logs failures."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()

    def spawn(self, work: Work, *, name: str, after_ack: Deferral | None = None) -> None:
        """Runs `work` now, or once `after_ack`'s request has been answered."""
        if after_ack is not None:
            after_ack.add(work, name)
        else:
            self.start(work, name)

    def start(self, work: Work, name: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

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


class AfterAck:
    """One Slack request's follow-up work, held until the door has sent its ack."""

    def __init__(self, background: Background) -> None:
        self.background = background
        self.held: list[tuple[Work, str]] = []
        self.released = False

    def add(self, work: Work, name: str) -> None:
        """Held until `release`; once released (work that ran after the ack adding more),
        started at once."""
        if self.released:
            self.background.start(work, name)
        else:
            self.held.append((work, name))

    def release(self) -> None:
        """The ack is out (or could not be sent; the work was promised all the same)."""
        self.released = True
        held, self.held = self.held, []
        for work, name in held:
            self.background.start(work, name)


def after_ack_of(context: Mapping[str, Any]) -> AfterAck | None:
    """The AfterAck the front door put in a Bolt request's context; None when the app was
    dispatched some other way (then there is no ack to wait for)."""
    found = context.get(AFTER_ACK)
    return found if isinstance(found, AfterAck) else None
