"""Break-glass requests: filed already claimed, reviewed once, the review escalated once.

Each step is one conditional UPDATE plus its event in one transaction, so two clicks or two
replicas sweeping never review or escalate twice. Posting to Slack happens outside, under a
lease, each post recorded as it lands (as for reminders), so a retry sends only what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.models import Action, Request, Review, Status, Target
from bot.store.requests import Requests
from bot.store.schema import requests_t, targets_t

__all__ = ["ESCALATION_CLAIMED", "ESCALATION_DONE", "TOLD_ALL", "BreakGlass"]

ESCALATION_CLAIMED, ESCALATION_DONE = 1, 2
TOLD_ALL = 8  # `review_told` once every post telling the review has landed
_REVIEWED = (Review.ACKNOWLEDGED.value, Review.FLAGGED.value)
_FINAL = [s.value for s in Status if s.final]


def _lapsed(column: Any, now: float) -> Any:
    return or_(column.is_(None), column < now)


class BreakGlass(Requests):
    """The store's break-glass half (bot.core.ports.RequestStore's create_break_glass and
    review), and the review's escalation and telling for bot/slack/review_poster.py."""

    async def create_break_glass(
        self,
        *,
        org: str,
        action: Action,
        requester: str,
        reason: str,
        targets: Sequence[Target],
        incident: str | None,
        now: float,
        expires_at: float,
        review_due_at: float,
        lease_seconds: float,
        channel_id: str | None = None,
        response_url: str | None = None,
        dedupe_key: str | None = None,
        again: bool = False,
    ) -> tuple[Request, str | None]:
        """Stores the request and claims its execution in one transaction (`requested`,
        `broke_glass`, `claimed`), so it is never seen pending and nobody approves it: the
        claim runs it through the same leases as an approved request. Urgent, as a command's
        ack may wait on it. Its targets are reserved and released again in the transaction,
        so a target pending elsewhere refuses it (AlreadyPending) unless `again`."""
        async with self._write(urgent=True) as conn:
            inserted = await self._insert_request(
                conn,
                {
                    "org": org,
                    "action": action.value,
                    "requester": requester,
                    "reason": reason,
                    "approvals_needed": 0,
                    "created_at": now,
                    "expires_at": expires_at,
                    "channel_id": channel_id,
                    "response_url": response_url,
                    "dedupe_key": dedupe_key,
                    "break_glass": 1,
                    "incident": incident,
                    "review": Review.PENDING.value,
                    "review_due_at": review_due_at,
                    "decided_by": requester,
                },
                targets,
                again=again,
            )
            if isinstance(inserted, Request):
                return inserted, None
            await self._event(
                conn,
                inserted,
                now,
                requester,
                "broke_glass",
                {"incident": incident, "reason": reason},
            )
            claim = await self._claim(conn, inserted, Status.PENDING, now, lease_seconds)
            return await self._load(conn, inserted), claim

    async def executed_event(self, conn: AsyncConnection, request_id: int, now: float) -> None:
        """For a break-glass request that finished: `executed`, each target's result, so the
        log shows at one glance what one person's decision did."""
        glass = (
            await conn.execute(
                select(requests_t.c.break_glass).where(requests_t.c.id == request_id)
            )
        ).scalar()
        if not glass:
            return
        rows = await conn.execute(
            select(targets_t.c.app_id, targets_t.c.number, targets_t.c.outcome)
            .where(targets_t.c.request_id == request_id)
            .order_by(targets_t.c.idx)
        )
        results = [{"target": str(Target(r.app_id, r.number)), "outcome": r.outcome} for r in rows]
        await self._event(conn, request_id, now, "bot", "executed", {"targets": results})

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
        still pending moves (one conditional UPDATE, with its `reviewed` event)."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.break_glass == 1,
                        requests_t.c.review == Review.PENDING.value,
                        requests_t.c.status.in_(_FINAL),
                    )
                )
                .values(
                    review=verdict.value,
                    reviewed_by=reviewer,
                    review_note=note,
                    reviewed_at=now,
                )
            )
            if result.rowcount != 1:
                return None
            detail: dict[str, object] = {"review": verdict.value}
            if note:
                detail["note"] = note
            await self._event(conn, request_id, now, reviewer, "reviewed", detail)
            return await self._load(conn, request_id)

    # -- the review's escalation: claimed once, posted under a lease ----------------------

    async def overdue_reviews(self, now: float) -> list[int]:
        """Break-glass requests whose review is overdue and whose escalation is not fully
        posted, with a card to thread under and nobody posting it now (candidates only)."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id)
                .where(
                    and_(
                        requests_t.c.review == Review.PENDING.value,
                        requests_t.c.break_glass == 1,
                        requests_t.c.review_due_at <= now,
                        requests_t.c.card_ts.is_not(None),
                        requests_t.c.review_escalation < ESCALATION_DONE,
                        _lapsed(requests_t.c.review_lease_until, now),
                    )
                )
                .order_by(requests_t.c.id)
                .limit(500)
            )
            return [int(r) for r in rows.scalars()]

    async def claim_review_escalation(
        self, request_id: int, now: float, lease_seconds: float, detail: dict[str, object]
    ) -> bool:
        """Takes the escalation, once however many replicas ask (with `review_escalated`)."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.review == Review.PENDING.value,
                        requests_t.c.review_due_at <= now,
                        requests_t.c.card_ts.is_not(None),
                        requests_t.c.review_escalation == 0,
                        _lapsed(requests_t.c.review_lease_until, now),
                    )
                )
                .values(
                    review_escalation=ESCALATION_CLAIMED,
                    review_lease_until=now + lease_seconds,
                    review_sent=None,
                )
            )
            if result.rowcount != 1:
                return False
            await self._event(conn, request_id, now, "bot", "review_escalated", detail)
            return True

    async def resume_review_escalation(
        self, request_id: int, now: float, lease_seconds: float
    ) -> list[str] | None:
        """Takes over an escalation whose poster stopped half-way: the posts already made,
        or None if it is not ours to finish (done, reviewed meanwhile, or someone posts)."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.review == Review.PENDING.value,
                        requests_t.c.review_escalation == ESCALATION_CLAIMED,
                        _lapsed(requests_t.c.review_lease_until, now),
                    )
                )
                .values(review_lease_until=now + lease_seconds)
            )
            if result.rowcount != 1:
                return None
            sent = (
                await conn.execute(
                    select(requests_t.c.review_sent).where(requests_t.c.id == request_id)
                )
            ).scalar()
            return list(json.loads(sent)) if sent else []

    async def mark_review_escalation_sent(
        self, request_id: int, part: str, now: float, lease_until: float, refused: str | None
    ) -> bool:
        """Remembers one escalation post (or one Slack refused for good, with its event) and
        renews the lease; False once the review was given: the poster stops there."""
        async with self._write() as conn:
            row = (
                await conn.execute(
                    select(requests_t.c.review, requests_t.c.review_sent)
                    .where(requests_t.c.id == request_id)
                    .with_for_update()
                )
            ).first()
            if row is None or row.review != Review.PENDING.value:
                return False
            sent = list(json.loads(row.review_sent)) if row.review_sent else []
            if part not in sent:
                sent.append(part)
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(review_sent=json.dumps(sent), review_lease_until=lease_until)
            )
            if refused is not None:
                await self._event(
                    conn,
                    request_id,
                    now,
                    "slack",
                    "slack_refused",
                    {"step": "review_escalated", "to": part, "error": refused},
                )
            return True

    async def finish_review_escalation(self, request_id: int) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.review_escalation == ESCALATION_CLAIMED,
                    )
                )
                .values(review_escalation=ESCALATION_DONE, review_lease_until=None)
            )

    # -- telling the review: thread and requester, each once ------------------------------

    async def untold_reviews(self, now: float) -> list[int]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id)
                .where(
                    and_(
                        requests_t.c.review.in_(_REVIEWED),
                        requests_t.c.review_told < TOLD_ALL,
                        _lapsed(requests_t.c.review_told_lease, now),
                    )
                )
                .order_by(requests_t.c.id)
                .limit(500)
            )
            return [int(r) for r in rows.scalars()]

    async def claim_review_told(
        self, request_id: int, now: float, lease_seconds: float
    ) -> int | None:
        """One teller per review, as one announcer per outcome: the posts already made
        (bits), or None when it is told or someone else is telling it."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.review.in_(_REVIEWED),
                        requests_t.c.review_told < TOLD_ALL,
                        _lapsed(requests_t.c.review_told_lease, now),
                    )
                )
                .values(review_told_lease=now + lease_seconds)
            )
            if result.rowcount != 1:
                return None
            told = (
                await conn.execute(
                    select(requests_t.c.review_told).where(requests_t.c.id == request_id)
                )
            ).scalar()
            return int(told or 0)

    async def mark_review_told(
        self, request_id: int, bit: int, lease_until: float | None = None
    ) -> None:
        """One post telling the review landed (TOLD_ALL: all of them; the lease is let go)."""
        values: dict[str, Any] = {"review_told": requests_t.c.review_told.op("|")(bit)}
        values["review_told_lease"] = None if bit == TOLD_ALL else lease_until
        async with self._write() as conn:
            await conn.execute(
                update(requests_t).where(requests_t.c.id == request_id).values(values)
            )
