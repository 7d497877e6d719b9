"""The Slack outbox: cards still to post and outcomes still to announce, each under a lease.

Posting happens outside the transaction, so a lease (not a lock) keeps replicas from posting
the same card twice, and a crashed poster's lease lapses for another to take over.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, update

from bot.core.models import Status
from bot.store.database import Database
from bot.store.schema import requests_t

__all__ = ["Outbox"]


class Outbox(Database):
    """Used by the notifier (bot/slack/notifier.py), never by the workflow."""

    async def claim_card(self, request_id: int, now: float, lease_seconds: float) -> bool:
        """One poster per card, even with several replicas; a crashed poster's lease lapses."""
        return await self._lease(
            request_id,
            requests_t.c.card_ts.is_(None),
            requests_t.c.card_lease_until,
            now,
            lease_seconds,
        )

    async def set_card(self, request_id: int, channel: str, ts: str, now: float) -> None:
        """Records where the card went, so later edits find it and nobody posts it again."""
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(card_channel=channel, card_ts=ts, card_lease_until=None)
            )
            await self._event(conn, request_id, now, "bot", "card_posted", {"channel": channel})

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
        """Requests whose card was never posted, and final ones whose outcome was never told."""
        async with self._read() as conn:
            cards = await conn.execute(
                select(requests_t.c.id).where(
                    and_(
                        requests_t.c.card_ts.is_(None),
                        requests_t.c.status == Status.PENDING.value,
                        or_(
                            requests_t.c.card_lease_until.is_(None),
                            requests_t.c.card_lease_until < now,
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
