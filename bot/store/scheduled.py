"""Scheduled execution's store: the approved requests waiting for their change window, found
when due, claimed by the one claim a pending request's quorum takes (scheduled → executing,
a conditional UPDATE: one replica wins), moved to a later window, or expired; and the figures
of what still waits (pending or scheduled) for the metrics."""

from __future__ import annotations

import math

from sqlalchemy import and_, case, func, select

from bot.core.models import Request, Status
from bot.core.scheduling import Wait
from bot.store.conditions import conditional
from bot.store.schema import requests_t
from bot.store.transitions import Transitions

__all__ = ["Scheduled"]


class Scheduled(Transitions):
    """Used by the workflow's scheduling (bot/core/workflow/scheduling.py)."""

    async def pending_by_org(self) -> dict[str, tuple[int, float]]:
        """Per org: how many requests wait for a decision or for their change window
        (scheduled), and when the oldest waiting for a decision was filed (infinity when
        only scheduled ones wait: their age is their window's, not an approver's delay);
        one aggregate read, for the metrics the sweeper refreshes."""
        pending = requests_t.c.status == Status.PENDING.value
        query = (
            select(
                requests_t.c.org,
                func.count(),
                func.min(case((pending, requests_t.c.created_at), else_=None)),
            )
            .where(requests_t.c.status.in_([Status.PENDING.value, Status.SCHEDULED.value]))
            .group_by(requests_t.c.org)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {
            str(org): (int(count), math.inf if oldest is None else float(oldest))
            for org, count, oldest in rows
        }

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
