"""The Slack outbox: cards still to post, outcomes still to announce, and deliveries owed
(slack_deliveries: reminders, escalations, break-glass reviews), each under a lease.

Posting happens outside the transaction, so a lease (not a lock) keeps replicas from posting
the same thing twice, and a crashed poster's lease lapses for another to take over.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.deliveries import AT_ONCE, STEP, Delivery, Kind
from bot.core.models import Status
from bot.store.conditions import conditional, lapsed
from bot.store.database import Database
from bot.store.schema import requests_t, slack_deliveries_t

__all__ = ["Outbox", "owe", "owe_posts"]

_D = slack_deliveries_t

# Built once (every card takes both): see database.py
_CLAIM_CARD = conditional(
    requests_t,
    requests_t.c.id == bindparam("request_id"),
    requests_t.c.card_ts.is_(None),
    lapsed(requests_t.c.card_lease_until, bindparam("now")),
).values(card_lease_until=bindparam("new_lease"))
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

    async def renew_card(self, request_id: int, until: float) -> None:
        """Keeps a card's claim through a slow post: only a claim still held, only longer
        (nothing once it is posted or released for the next sweep)."""
        lease = requests_t.c.card_lease_until
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id, requests_t.c.card_ts.is_(None), lease < until)
                .values(card_lease_until=until)
            )

    async def set_card(
        self,
        request_id: int,
        channel: str,
        ts: str,
        now: float,
        owed: Iterable[tuple[Kind, float]] = (),
    ) -> Status:
        """Records where the card went, so later edits find it and nobody posts it again, and
        the deliveries threaded under it that it makes owed (reminders); the request's status
        as it stands (one still pending needs nothing more)."""
        async with self._write() as conn:
            await owe(conn, self._insert, request_id, owed)
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
                                lapsed(requests_t.c.card_lease_until, now),
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
                        # an announcement not yet begun (its posts are the dispatcher's)
                        select(_D.c.id)
                        .where(
                            and_(
                                _D.c.request_id == requests_t.c.id,
                                _D.c.kind == Kind.ANNOUNCED.value,
                                _D.c.recipient == STEP,
                                _due(now),
                            )
                        )
                        .exists(),
                    )
                )
            )
            return list(cards.scalars()), list(told.scalars())

    # -- deliveries: a step claimed once, expanded into its recipients, each posted once ----

    async def due_deliveries(self, now: float) -> list[int]:
        """Requests with a delivery due that nobody holds (candidates only: claims decide)."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(_D.c.request_id)
                .where(_due(now))
                .group_by(_D.c.request_id)
                .order_by(func.min(_D.c.due_at))
                .limit(500)
            )
            return [int(r) for r in rows.scalars()]

    async def deliveries(self, request_id: int, now: float) -> list[Delivery]:
        """A request's deliveries due and free, in the order they are posted."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(_D)
                .where(and_(_D.c.request_id == request_id, _due(now)))
                # an escalation due with its reminder (a bot that was down) comes after it
                .order_by(_D.c.due_at, _D.c.kind == Kind.ESCALATED.value, _D.c.id)
            )
            return [
                Delivery(
                    id=int(r.id),
                    request_id=int(r.request_id),
                    kind=Kind(r.kind),
                    recipient=str(r.recipient),
                    due_at=float(r.due_at),
                    attempts=int(r.attempts),
                )
                for r in rows
            ]

    async def claim_delivery(self, delivery: Delivery, now: float, lease_seconds: float) -> bool:
        """One poster per delivery, however many replicas ask; a crashed one's lease lapses."""
        async with self._write() as conn:
            result = await conn.execute(
                update(_D)
                .where(and_(_D.c.id == delivery.id, _due(now)))
                .values(lease_until=now + lease_seconds)
            )
            return bool(result.rowcount == 1)

    async def renew_delivery(self, delivery: Delivery, until: float) -> None:
        """Keeps a claimed delivery through a slow post: only longer, never shortening a
        refusal's back-off (nothing once it is done)."""
        async with self._write() as conn:
            await conn.execute(
                update(_D)
                .where(_D.c.id == delivery.id, _D.c.done_at.is_(None), _D.c.lease_until < until)
                .values(lease_until=until)
            )

    async def reschedule_delivery(self, delivery: Delivery, due_at: float) -> None:
        """A step the policy in force now makes due later (a reloaded org file)."""
        await self._set(delivery.id, due_at=due_at, lease_until=None)

    async def drop_delivery(self, delivery: Delivery, now: float) -> None:
        """No longer owed (the request moved on, or nowhere to post it): done, never posted."""
        await self._done(delivery, now)

    async def expand_delivery(
        self, step: Delivery, recipients: list[str], now: float, detail: dict[str, object]
    ) -> bool:
        """Turns a claimed step into one delivery per recipient, with the step's event, once:
        False when the step was done meanwhile. A step resumed after a crash or taken over
        from older columns (migration 0014) keeps the deliveries already there."""
        async with self._write() as conn:
            done = await conn.execute(
                update(_D)
                .where(and_(_D.c.id == step.id, _D.c.done_at.is_(None)))
                .values(done_at=now, lease_until=None)
            )
            if done.rowcount != 1:
                return False
            siblings = and_(_D.c.request_id == step.request_id, _D.c.kind == step.kind.value)
            begun = (
                await conn.execute(select(func.count()).where(siblings, _D.c.recipient != STEP))
            ).scalar_one()
            for key in recipients:
                await conn.execute(
                    self._insert(_D)
                    .values(_row(step.request_id, step.kind, key, step.due_at))
                    .on_conflict_do_nothing()
                )
            if not begun and not step.kind.silent:
                await self._event(conn, step.request_id, now, "bot", step.kind.value, detail)
            await self._settle(conn, step, now)
            return True

    async def delivered(self, delivery: Delivery, channel: str, ts: str | None, now: float) -> None:
        """Posted: done for good, with where it went."""
        await self._done(
            delivery, now, sent_channel=channel, sent_ts=ts, attempts=_D.c.attempts + 1
        )

    async def delivery_refused(
        self, delivery: Delivery, error: str, now: float, retry_at: float | None
    ) -> None:
        """Slack refused a post. For good (`retry_at` None): done, with a `slack_refused`
        event. Else tried again from `retry_at`, and the step's later posts wait with it."""
        async with self._write() as conn:
            await conn.execute(
                update(_D)
                .where(_D.c.id == delivery.id)
                .values(
                    attempts=_D.c.attempts + 1,
                    refusal=error[:80],
                    done_at=now if retry_at is None else None,
                    lease_until=retry_at,
                )
            )
            if retry_at is not None:
                await conn.execute(
                    update(_D)
                    .where(
                        and_(
                            _D.c.request_id == delivery.request_id,
                            _D.c.kind == delivery.kind.value,
                            _D.c.done_at.is_(None),
                        )
                    )
                    .values(lease_until=retry_at)
                )
                return
            detail: dict[str, object] = {
                "step": delivery.kind.value,
                "to": delivery.recipient,
                "error": error,
            }
            await self._event(conn, delivery.request_id, now, "slack", "slack_refused", detail)
            await self._settle(conn, delivery, now)

    async def settle_announcements(self, now: float) -> list[int]:
        """Outcomes whose every post is done but that were never recorded as told (two
        replicas' last posts at once, before `_settle` took the request's row): told now."""
        announced = and_(_D.c.request_id == requests_t.c.id, _D.c.kind == Kind.ANNOUNCED.value)
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id).where(
                    requests_t.c.notified_at.is_(None),
                    requests_t.c.status.in_([s.value for s in Status if s.final]),
                    select(_D.c.id).where(announced).exists(),
                    ~select(_D.c.id).where(announced, _D.c.done_at.is_(None)).exists(),
                )
            )
            untold = [int(r) for r in rows.scalars()]
        settled = []
        for request_id in untold:
            async with self._write() as conn:
                if await self._settle_request(conn, request_id, now):
                    settled.append(request_id)
        return settled

    async def _set(self, delivery_id: int, **values: Any) -> None:
        async with self._write() as conn:
            await conn.execute(update(_D).where(_D.c.id == delivery_id).values(values))

    async def _done(self, delivery: Delivery, now: float, **values: Any) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(_D)
                .where(_D.c.id == delivery.id)
                .values(done_at=now, lease_until=None, **values)
            )
            await self._settle(conn, delivery, now)

    async def _settle(self, conn: AsyncConnection, delivery: Delivery, now: float) -> None:
        """An outcome whose last post is done was told: `notified_at` and `announced`, once."""
        if delivery.kind is Kind.ANNOUNCED:
            await self._settle_request(conn, delivery.request_id, now)

    async def _settle_request(self, conn: AsyncConnection, request_id: int, now: float) -> bool:
        # the request's row first: two replicas finishing its last two posts at once would
        # each count the other's as left (PostgreSQL's read committed) and neither tell it
        await self._lock_request(conn, request_id)
        left = (
            await conn.execute(
                select(func.count()).where(
                    _D.c.request_id == request_id,
                    _D.c.kind == Kind.ANNOUNCED.value,
                    _D.c.done_at.is_(None),
                )
            )
        ).scalar_one()
        if left:
            return False
        told = await conn.execute(
            update(requests_t)
            .where(and_(requests_t.c.id == request_id, requests_t.c.notified_at.is_(None)))
            .values(notified_at=now)
        )
        if told.rowcount != 1:
            return False
        await self._event(conn, request_id, now, "bot", "announced")
        return True


def _due(now: float) -> Any:
    """Not done, due, and nobody's lease holds it."""
    return and_(
        _D.c.done_at.is_(None),
        _D.c.due_at <= now,
        lapsed(_D.c.lease_until, now),
    )


def _row(request_id: int, kind: Kind, recipient: str, due_at: float) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "kind": kind.value,
        "recipient": recipient,
        "due_at": due_at,
        "attempts": 0,
    }


async def owe(
    conn: AsyncConnection,
    insert: Any,
    request_id: int,
    steps: Iterable[tuple[Kind, float]],
) -> None:
    """Writes the steps a change makes owed, in that change's transaction (`insert`: the
    dialect's, for ON CONFLICT DO NOTHING: a step is owed once)."""
    for kind, due_at in steps:
        await conn.execute(
            insert(_D).values(_row(request_id, kind, STEP, due_at)).on_conflict_do_nothing()
        )


async def owe_posts(
    conn: AsyncConnection, insert: Any, request_id: int, kind: Kind, recipients: Iterable[str]
) -> None:
    """Writes posts owed at once straight to their recipients (no step to expand), in the
    owing change's transaction; each key once."""
    for key in recipients:
        await conn.execute(
            insert(_D).values(_row(request_id, kind, key, AT_ONCE)).on_conflict_do_nothing()
        )
