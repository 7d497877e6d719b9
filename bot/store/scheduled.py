"""Scheduled execution's store: the approved requests waiting for their change window, found
when due, claimed by the one claim a pending request's quorum takes (scheduled → executing,
a conditional UPDATE: one replica wins), moved to a later window, or expired."""

from __future__ import annotations

from sqlalchemy import and_, select

from bot.core.models import Request, Status
from bot.core.scheduling import Wait
from bot.store.conditions import conditional
from bot.store.schema import requests_t
from bot.store.transitions import Transitions

__all__ = ["Scheduled"]


class Scheduled(Transitions):
    """Used by the workflow's scheduling (bot/core/workflow/scheduling.py)."""

    async def scheduled(self, *, due_by: float | None = None, limit: int = 500) -> list[int]:
        """Scheduled requests, oldest first: those due by `due_by`, or all (None)."""
        condition = requests_t.c.status == Status.SCHEDULED.value
        if due_by is not None:
            condition = and_(condition, requests_t.c.run_at <= due_by)
        query = select(requests_t.c.id).where(condition).order_by(requests_t.c.run_at).limit(limit)
        async with self._read() as conn:
            return list((await conn.execute(query)).scalars())

    async def claim_scheduled(
        self, request_id: int, *, now: float, lease_seconds: float
    ) -> tuple[str, Request] | None:
        """scheduled → executing with a fresh claim, if it is still scheduled (None: another
        replica took it, or it moved on): the claim a quorum takes, so it runs once."""
        async with self._write() as conn:
            claim = await self._claim(conn, request_id, Status.SCHEDULED, now, lease_seconds)
            return None if claim is None else (claim, await self._load(conn, request_id))

    async def reschedule(
        self, request_id: int, *, was: float, wait: Wait, now: float
    ) -> Request | None:
        """A scheduled request moved to another stretch (the org file in force changed its
        windows or freezes), if it still waits for `was`; its `rescheduled` event."""
        async with self._write() as conn:
            moved = await conn.execute(
                conditional(
                    requests_t,
                    requests_t.c.id == request_id,
                    requests_t.c.status == Status.SCHEDULED.value,
                    requests_t.c.run_at == was,
                ).values(run_at=wait.run_at, run_until=wait.run_until, decision_note=wait.text(now))
            )
            if moved.rowcount != 1:
                return None
            detail = {"run_at": wait.run_at, "run_until": wait.run_until, "why": wait.why}
            await self._event(conn, request_id, now, "bot", "rescheduled", detail)
            return await self._load(conn, request_id)
