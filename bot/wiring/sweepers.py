"""The loops a running bot keeps beside its doors, one list built by the root: started
together once a door is open, stopped together when the bot closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from bot.observability.metrics import BotMetrics, MetricsSource

log = logging.getLogger(__name__)

Sweep = Callable[[], Awaitable[None]]  # one pass of one part; safe on every replica
Loop = Callable[[], Coroutine[Any, Any, None]]  # runs until cancelled


class Sweepers:
    """Each sweep in order, once at start and then every `interval` seconds (a failed pass
    is logged and tried again on the next), plus `loops` that run on their own."""

    def __init__(
        self,
        sweeps: Sequence[Sweep],
        *,
        interval: float,
        metrics: BotMetrics,
        source: MetricsSource,
        loops: Sequence[Loop] = (),
    ) -> None:
        self.sweeps = tuple(sweeps)
        self.loops = tuple(loops)
        self.interval = interval
        self.metrics = metrics
        self.source = source
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
                with self.metrics.sweeping():
                    await self.sweep_once()
            except Exception:
                log.exception("sweep failed; trying again later")
            await self.metrics.refresh(self.source)
            await asyncio.sleep(self.interval)
