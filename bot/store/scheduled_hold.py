"""An approval that completes its quorum outside the request's change window: the request is
held (pending → scheduled) in the approval's own transaction instead of claimed."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.deliveries import AT_ONCE, Kind
from bot.core.models import Status
from bot.core.scheduling import Wait
from bot.store.outbox import owe
from bot.store.requests import Requests
from bot.store.schema import requests_t

__all__ = ["Holding"]


class Holding(Requests):
    """Used by Transitions.approve."""

    async def _hold(
        self, conn: AsyncConnection, request_id: int, approver: str, wait: Wait, now: float
    ) -> None:
        """pending → scheduled (the row is locked): its targets released as a claim's are, a
        `scheduled` event, and the requester and the card's thread owed the time it runs."""
        await conn.execute(
            update(requests_t)
            .where(requests_t.c.id == request_id)
            .values(
                status=Status.SCHEDULED.value,
                run_at=wait.run_at,
                run_until=wait.run_until,
                decided_by=approver,
                decision_note=wait.text(now),
            )
        )
        await self._release(conn, request_id)
        detail = {"run_at": wait.run_at, "run_until": wait.run_until, "why": wait.why}
        await self._event(conn, request_id, now, "bot", "scheduled", detail)
        await owe(conn, self._insert, request_id, [(Kind.SCHEDULED_TOLD, AT_ONCE)])
