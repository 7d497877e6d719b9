"""The Slack outbox: cards still to post and outcomes still to announce, each under a lease.

Posting happens outside the transaction, so a lease (not a lock) keeps replicas from posting
the same card twice, and a crashed poster's lease lapses for another to take over.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update

from bot.core.models import Action, Status
from bot.core.reminders import ReminderState, Step
from bot.store.database import Database
from bot.store.schema import requests_t

__all__ = ["Outbox"]

# Built once (every card takes both): see database.py
_CLAIM_CARD = (
    update(requests_t)
    .where(
        and_(
            requests_t.c.id == bindparam("request_id"),
            requests_t.c.card_ts.is_(None),
            or_(
                requests_t.c.card_lease_until.is_(None),
                requests_t.c.card_lease_until < bindparam("now"),
            ),
        )
    )
    .values(card_lease_until=bindparam("new_lease"))
)
_SET_CARD = (
    update(requests_t)
    .where(requests_t.c.id == bindparam("request_id"))
    .values(
        card_channel=bindparam("to_channel"),
        card_ts=bindparam("to_ts"),
        card_lease_until=None,
        slack_problem=None,
        slack_problem_told=None,
    )
    .returning(requests_t.c.status)
)


class Outbox(Database):
    """Used by the notifier (bot/slack/notifier.py), never by the workflow."""

    async def claim_card(self, request_id: int, now: float, lease_seconds: float) -> bool:
        """One poster per card, even with several replicas; a crashed poster's lease lapses."""
        async with self._write() as conn:
            result = await conn.execute(
                _CLAIM_CARD,
                {"request_id": request_id, "now": now, "new_lease": now + lease_seconds},
            )
            return bool(result.rowcount == 1)

    async def set_card(self, request_id: int, channel: str, ts: str, now: float) -> Status:
        """Records where the card went, so later edits find it and nobody posts it again; the
        request's status as it stands (one still pending needs nothing more)."""
        async with self._write() as conn:
            status = (
                await conn.execute(
                    _SET_CARD, {"request_id": request_id, "to_channel": channel, "to_ts": ts}
                )
            ).scalar_one()
            await self._event(
                conn, request_id, now, "bot", "card_posted", {"channel": channel, "ts": ts}
            )
            return Status(status)

    async def note_slack_problem(
        self, request_id: int, problem: str, now: float, *, release_card: bool = False
    ) -> bool:
        """Records what Slack refused; True the first time this problem is noted (so the
        requester is told once). `release_card` lets the next sweep try the card again."""
        values: dict[str, Any] = {"slack_problem": problem, "slack_problem_told": problem}
        if release_card:
            values["card_lease_until"] = None
        async with self._write() as conn:
            told = (
                await conn.execute(
                    select(requests_t.c.slack_problem_told).where(requests_t.c.id == request_id)
                )
            ).scalar()
            await conn.execute(
                update(requests_t).where(requests_t.c.id == request_id).values(values)
            )
            if told == problem:
                return False
            step, _, rest = problem.partition(":")
            error = rest.partition(":")[0]
            await self._event(
                conn, request_id, now, "slack", "slack_refused", {"step": step, "error": error}
            )
            return True

    async def clear_slack_problem(self, request_id: int) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(and_(requests_t.c.id == request_id, requests_t.c.slack_problem.is_not(None)))
                .values(slack_problem=None)
            )

    async def slack_problems(self) -> list[tuple[int, str]]:
        """Requests Slack has refused something for, and what (for /healthz)."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id, requests_t.c.slack_problem)
                .where(requests_t.c.slack_problem.is_not(None))
                .order_by(requests_t.c.id)
                .limit(100)
            )
            return [(int(r[0]), str(r[1])) for r in rows]

    async def claim_notify(self, request_id: int, now: float, lease_seconds: float) -> bool:
        """One announcer per outcome, as claim_card is one poster per card."""
        return await self._lease(
            request_id,
            requests_t.c.notified_at.is_(None),
            requests_t.c.notify_lease_until,
            now,
            lease_seconds,
        )

    async def mark_announced(
        self, request_id: int, step: int, *, lease_until: float | None = None
    ) -> None:
        """Remembers one announcement post, so a retry after a failure or crash skips it; and
        renews the announcer's lease, so a slow announcement is not taken over half-way."""
        values: dict[str, Any] = {"announced": requests_t.c.announced.op("|")(step)}
        if lease_until is not None:
            values["notify_lease_until"] = lease_until
        async with self._write() as conn:
            await conn.execute(
                update(requests_t).where(requests_t.c.id == request_id).values(values)
            )

    async def mark_notified(self, request_id: int, now: float) -> None:
        """The outcome was told: it leaves the outbox for good."""
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(notified_at=now, notify_lease_until=None)
            )
            await self._event(conn, request_id, now, "bot", "announced")

    async def _lease(
        self,
        request_id: int,
        undone: Any,
        lease_column: Any,
        now: float,
        lease_seconds: float,
    ) -> bool:
        """Takes a lease on a job still `undone` whose previous lease, if any, has lapsed."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        undone,
                        or_(lease_column.is_(None), lease_column < now),
                    )
                )
                .values({lease_column.name: now + lease_seconds})
            )
            return bool(result.rowcount == 1)

    async def outbox(self, now: float) -> tuple[list[int], list[int]]:
        """Pending requests whose card was never posted (or Slack refused to update), and final
        ones whose outcome was never told."""
        async with self._read() as conn:
            cards = await conn.execute(
                select(requests_t.c.id).where(
                    and_(
                        or_(
                            requests_t.c.status == Status.PENDING.value,
                            # a break-glass card whatever the state: it never waits, and
                            # its review changes it after it ran
                            requests_t.c.break_glass == 1,
                        ),
                        or_(
                            and_(
                                requests_t.c.card_ts.is_(None),
                                or_(
                                    requests_t.c.card_lease_until.is_(None),
                                    requests_t.c.card_lease_until < now,
                                ),
                            ),
                            # a card Slack refused to update: try again
                            requests_t.c.slack_problem.is_not(None),
                        ),
                    )
                )
            )
            final = [s.value for s in Status if s.final]
            told = await conn.execute(
                select(requests_t.c.id).where(
                    and_(
                        requests_t.c.notified_at.is_(None),
                        requests_t.c.status.in_(final),
                        or_(
                            requests_t.c.notify_lease_until.is_(None),
                            requests_t.c.notify_lease_until < now,
                        ),
                    )
                )
            )
            return list(cards.scalars()), list(told.scalars())

    # -- reminders and escalation: each step claimed once, posted under a lease ------------

    async def reminder_candidates(self, now: float) -> list[ReminderState]:
        """Pending requests with a card that may have a step to take or to finish; whether
        one is due is the policy's to say (bot.core.reminders.due)."""
        lapsed = or_(
            requests_t.c.reminder_lease_until.is_(None),
            requests_t.c.reminder_lease_until < now,
        )
        async with self._read() as conn:
            rows = await conn.execute(
                select(
                    requests_t.c.id,
                    requests_t.c.org,
                    requests_t.c.action,
                    requests_t.c.created_at,
                    requests_t.c.expires_at,
                    requests_t.c.reminder_step,
                    requests_t.c.reminder_done,
                    requests_t.c.reminder_lease_until,
                )
                .where(
                    and_(
                        requests_t.c.status == Status.PENDING.value,
                        requests_t.c.card_ts.is_not(None),
                        requests_t.c.expires_at > now,
                        lapsed,
                        or_(
                            requests_t.c.reminder_step < max(Step),
                            requests_t.c.reminder_done < requests_t.c.reminder_step,
                        ),
                    )
                )
                .order_by(requests_t.c.id)
                .limit(500)
            )
            return [
                ReminderState(
                    request_id=int(r.id),
                    org=str(r.org),
                    action=Action(r.action),
                    created_at=float(r.created_at),
                    expires_at=float(r.expires_at),
                    step=int(r.reminder_step),
                    done=int(r.reminder_done),
                    lease_until=r.reminder_lease_until,
                )
                for r in rows
            ]

    async def claim_reminder(
        self,
        request_id: int,
        step: Step,
        now: float,
        lease_seconds: float,
        detail: dict[str, object] | None = None,
    ) -> bool:
        """Takes `step` for this request, once however many replicas ask: only while it is
        pending, unexpired, has a card, has not reached this step, and nobody holds the lease.
        The step's event (`reminded`, `escalated`) is written in the same transaction."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.status == Status.PENDING.value,
                        requests_t.c.expires_at > now,
                        requests_t.c.card_ts.is_not(None),
                        requests_t.c.reminder_step < int(step),
                        or_(
                            requests_t.c.reminder_lease_until.is_(None),
                            requests_t.c.reminder_lease_until < now,
                        ),
                    )
                )
                .values(
                    reminder_step=int(step),
                    reminder_lease_until=now + lease_seconds,
                    reminder_sent=None,
                )
            )
            if result.rowcount != 1:
                return False
            await self._event(conn, request_id, now, "bot", step.kind, detail)
            return True

    async def resume_reminder(
        self, request_id: int, step: Step, now: float, lease_seconds: float
    ) -> list[str] | None:
        """Takes over a claimed step whose poster stopped half-way (Slack refused, or it
        crashed): the posts already made, or None if the step is not ours to finish."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.status == Status.PENDING.value,
                        requests_t.c.expires_at > now,
                        requests_t.c.reminder_step == int(step),
                        requests_t.c.reminder_done < int(step),
                        or_(
                            requests_t.c.reminder_lease_until.is_(None),
                            requests_t.c.reminder_lease_until < now,
                        ),
                    )
                )
                .values(reminder_lease_until=now + lease_seconds)
            )
            if result.rowcount != 1:
                return None
            sent = (
                await conn.execute(
                    select(requests_t.c.reminder_sent).where(requests_t.c.id == request_id)
                )
            ).scalar()
            return list(json.loads(sent)) if sent else []

    async def mark_reminder_sent(
        self,
        request_id: int,
        step: Step,
        part: str,
        now: float,
        lease_until: float,
        *,
        refused: str | None = None,
    ) -> bool:
        """Remembers one post of a step (or one Slack refused for good, with its event), and
        renews the lease. False once the request left pending: the poster stops there."""
        async with self._write() as conn:
            row = (
                await conn.execute(
                    select(
                        requests_t.c.status, requests_t.c.reminder_step, requests_t.c.reminder_sent
                    )
                    .where(requests_t.c.id == request_id)
                    .with_for_update()
                )
            ).first()
            if row is None or row.status != Status.PENDING.value or row.reminder_step != step:
                return False
            sent = list(json.loads(row.reminder_sent)) if row.reminder_sent else []
            if part not in sent:
                sent.append(part)
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(reminder_sent=json.dumps(sent), reminder_lease_until=lease_until)
            )
            if refused is not None:
                await self._event(
                    conn,
                    request_id,
                    now,
                    "slack",
                    "slack_refused",
                    {"step": step.kind, "to": part, "error": refused},
                )
            return True

    async def finish_reminder(self, request_id: int, step: Step) -> None:
        """Every post of the step was made: nobody retries it."""
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(and_(requests_t.c.id == request_id, requests_t.c.reminder_step == int(step)))
                .values(reminder_done=int(step), reminder_lease_until=None)
            )
