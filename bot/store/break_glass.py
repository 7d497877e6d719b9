"""Break-glass requests: filed already claimed, reviewed once, the review escalated once.

Each step is one conditional UPDATE plus its event in one transaction, so two clicks never
review twice. What each step makes owed in Slack (the review's escalation when filed, its
telling when given) is written in the same transaction, to the outbox (bot/store/outbox.py).
"""

from __future__ import annotations

from bot.core.deliveries import Kind
from bot.core.limits import LimitCheck
from bot.core.models import NewRequest, Request, Review, Status
from bot.store.conditions import conditional
from bot.store.outbox import owe
from bot.store.schema import requests_t
from bot.store.transitions import Transitions

__all__ = ["BreakGlass"]

_FINAL = [s.value for s in Status if s.final]


class BreakGlass(Transitions):
    """The store's break-glass half (bot.core.ports.RequestStore's create_break_glass and
    review)."""

    async def create_break_glass(
        self,
        new: NewRequest,
        *,
        incident: str | None,
        review_due_at: float,
        lease_seconds: float,
        limits: LimitCheck | None = None,
    ) -> tuple[Request, str | None]:
        """Stores the request and claims its execution in one transaction (`requested`,
        `broke_glass`, `claimed`), so it is never seen pending and nobody approves it: the
        claim runs it through the same leases as an approved request. Urgent, as a command's
        ack may wait on it. Its targets are reserved and released again in the transaction,
        so a target pending elsewhere refuses it (AlreadyPending) unless `again`."""
        now, requester = new.now, new.requester
        async with self._write(urgent=True) as conn:
            inserted = await self._insert_request(
                conn,
                new,
                {
                    "approvals_needed": 0,
                    "break_glass": 1,
                    "incident": incident,
                    "review": Review.PENDING.value,
                    "review_due_at": review_due_at,
                    "decided_by": requester,
                },
                limits=limits,
            )
            if isinstance(inserted, Request):
                return inserted, None
            request_id, _ = inserted  # over no limit: a break-glass check refuses every one
            await self._event(
                conn,
                request_id,
                now,
                requester,
                "broke_glass",
                {"incident": incident, "reason": new.reason},
            )
            await owe(conn, self._insert, request_id, [(Kind.REVIEW_ESCALATED, review_due_at)])
            claim = await self._claim(conn, request_id, Status.PENDING, now, lease_seconds)
            return await self._load(conn, request_id), claim

    async def review(
        self,
        request_id: int,
        *,
        reviewer: str,
        verdict: Review,
        note: str | None,
        now: float,
    ) -> Request | None:
        """Records the review, once: only a finished break-glass request whose review is
        still pending moves (one conditional UPDATE, with its `reviewed` event and its
        telling owed)."""
        async with self._write() as conn:
            result = await conn.execute(
                conditional(
                    requests_t,
                    requests_t.c.id == request_id,
                    requests_t.c.break_glass == 1,
                    requests_t.c.review == Review.PENDING.value,
                    requests_t.c.status.in_(_FINAL),
                ).values(
                    review=verdict.value, reviewed_by=reviewer, review_note=note, reviewed_at=now
                )
            )
            if result.rowcount != 1:
                return None
            detail: dict[str, object] = {"review": verdict.value}
            if note:
                detail["note"] = note
            return await self._moved(
                conn, request_id, now, reviewer, "reviewed", detail, Kind.REVIEW_TOLD
            )
