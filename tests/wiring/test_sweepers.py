"""The sweep loop keeps going whatever a pass does, and says so when a pass hangs.

A pass runs every part in order (recovery executing taken-over requests inline, the Slack
outbox, preview reads): a part that raises CancelledError of its own (a driver's, not a stop)
must not end the loop without a word, and a part that never returns must show in the log
with where it waits, since nothing else would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from bot.observability.metrics import BotMetrics
from bot.wiring.sweepers import Sweepers


class _Source:
    async def pending_by_org(self) -> dict[str, tuple[int, float]]:
        return {}

    async def outbox(self, now: float) -> tuple[list[int], list[int]]:
        return [], []


async def _until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _ok(metrics: BotMetrics) -> float:
    return float(metrics.sweeps.labels("ok")._value.get())


async def test_a_part_raising_cancelled_error_does_not_end_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = BotMetrics()
    raised = 0

    async def driver_cancelled() -> None:  # e.g. a connection's ping cut short inside a driver
        nonlocal raised
        if raised < 2:
            raised += 1
            raise asyncio.CancelledError

    sweepers = Sweepers([driver_cancelled], interval=0.01, metrics=metrics, source=_Source())
    with caplog.at_level(logging.ERROR, logger="bot.wiring.sweepers"):
        sweepers.start()
        try:
            await _until(lambda: _ok(metrics) >= 3, "three passes after two cancelled ones")
        finally:
            await sweepers.stop()
    assert raised == 2
    assert sum("a part was cancelled" in r.getMessage() for r in caplog.records) == 2


async def test_a_pass_that_hangs_is_logged_with_where_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = BotMetrics()
    release = asyncio.Event()

    async def waits_for_an_answer() -> None:
        await release.wait()

    sweepers = Sweepers(
        [waits_for_an_answer], interval=0.01, metrics=metrics, source=_Source(), stuck_after=0.05
    )

    def warned() -> list[str]:
        return [r.getMessage() for r in caplog.records if "still waiting" in r.getMessage()]

    with caplog.at_level(logging.WARNING, logger="bot.wiring.sweepers"):
        sweepers.start()
        try:
            await _until(lambda: len(warned()) >= 2, "a warning, repeated, while it hangs")
            assert _ok(metrics) == 0
            assert "waits_for_an_answer" in warned()[0]  # where: the part, by name
            release.set()
            await _until(lambda: _ok(metrics) >= 2, "passes once it returns")
            seen = len(warned())
            await _until(lambda: _ok(metrics) >= 20, "more passes")
            assert len(warned()) == seen  # quick passes: no warning left armed
        finally:
            await sweepers.stop()
