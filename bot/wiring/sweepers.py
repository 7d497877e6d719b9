"""The loops a running bot keeps beside its doors, one list built by the root: started
together once a door is open, stopped together when the bot closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any

from bot.observability.metrics import BotMetrics, MetricsSource

log = logging.getLogger(__name__)

Sweep = Callable[[], Awaitable[None]]  # one pass of one part; safe on every replica
Loop = Callable[[], Coroutine[Any, Any, None]]  # runs until cancelled
STUCK_AFTER = 30.0  # seconds a pass may run before the log says where it waits


class Sweepers:
    """Each sweep in order, once at start and then every `interval` seconds (a failed pass
    is logged and tried again on the next; one still running after `stuck_after` seconds is
    logged with where it waits, and again as long as it runs), plus `loops` that run on
    their own."""

    def __init__(
        self,
        sweeps: Sequence[Sweep],
        *,
        interval: float,
        metrics: BotMetrics,
        source: MetricsSource,
        loops: Sequence[Loop] = (),
        stuck_after: float = STUCK_AFTER,
    ) -> None:
        self.sweeps = tuple(sweeps)
        self.loops = tuple(loops)
        self.interval = interval
        self.metrics = metrics
        self.source = source
        self.stuck_after = stuck_after
        self._tasks: list[asyncio.Task[None]] = []

    async def sweep_once(self) -> None:
        for sweep in self.sweeps:
            await sweep()

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(run()) for run in (self._sweep_forever, *self.loops)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep_forever(self) -> None:
        while True:
            try:
                with self.metrics.sweeping(), self._watched():
                    await self.sweep_once()
            except asyncio.CancelledError:
                if _cancelled():
                    raise
                # raised by a part, not a stop: the loop would end without a word
                log.exception("sweep failed (a part was cancelled); trying again later")
            except Exception:
                log.exception("sweep failed; trying again later")
            await self.metrics.refresh(self.source)
            await asyncio.sleep(self.interval)

    @contextlib.contextmanager
    def _watched(self) -> Iterator[None]:
        """Warns while the pass in this task runs past `stuck_after`, every `stuck_after`."""
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        started = loop.time()
        handle: list[asyncio.TimerHandle] = []

        def stuck() -> None:
            log.warning(
                "a sweep pass has run for %.1f s and is still waiting, in:\n%s",
                loop.time() - started,
                "\n".join(_awaiting(task.get_coro() if task is not None else None)),
            )
            handle[:] = [loop.call_later(self.stuck_after, stuck)]

        handle.append(loop.call_later(self.stuck_after, stuck))
        try:
            yield
        finally:
            handle[0].cancel()


def _awaiting(coro: object) -> list[str]:
    """Where a suspended coroutine waits, outermost first (a task's own stack shows only its
    first frame): each frame down the chain of awaits."""
    where: list[str] = []
    while coro is not None and len(where) < 100:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            where.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return where


def _cancelled() -> bool:
    """Whether this task was asked to stop (a CancelledError can also come from a part)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
