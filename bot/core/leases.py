"""A lease held through slow work: renewed every third of its length while the work runs, so
another replica takes it over only when the holder died (its renewals stop with it), never
because a call was slow. One mechanism for executions, cards and Slack deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.errors import LostClaim

__all__ = ["held"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held(
    renew: Callable[[float], Awaitable[object]],
    *,
    lease_seconds: float,
    clock: Callable[[], float],
    what: str,
) -> AsyncIterator[None]:
    """Runs the body while `renew(until)` extends the lease every `lease_seconds / 3`. A
    renewal that fails (a database blip) is logged and tried on the next beat; LostClaim
    (another holder now) ends the beats, and the body finds out at its next conditional write."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            try:
                await renew(clock() + lease_seconds)
            except LostClaim:
                return
            except Exception as exc:
                log.warning("%s: could not renew the lease (%s)", what, exc)

    task = asyncio.create_task(beat(), name=f"lease-{what}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
