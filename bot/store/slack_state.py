"""What the Slack front doors share across replicas: Events API deliveries already taken in
(so Slack's retries are handled once), and who has opened the bot's Home tab."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, delete, select, update

from bot.store.database import Database
from bot.store.schema import home_viewers_t, slack_events_t

# every request's change asks it (database.py: statements built once)
_HOME_VIEWERS = (
    select(home_viewers_t.c.user_id)
    .where(home_viewers_t.c.user_id.in_(bindparam("users", expanding=True)))
    .order_by(home_viewers_t.c.user_id)
)

__all__ = ["SlackState"]

# Slack retries a delivery three times within about five minutes; an hour covers them all.
EVENT_MEMORY_SECONDS = 3600.0


class SlackState(Database):
    """Used by the Slack layer (bot/slack), never by the workflow."""

    async def first_delivery(
        self, event_id: str, now: float, *, keep_seconds: float = EVENT_MEMORY_SECONDS
    ) -> bool:
        """True for the first delivery of `event_id` on any replica, False for a repeat: the
        insert-if-absent decides. Rows older than `keep_seconds` are pruned on the way."""
        async with self._write(urgent=True) as conn:
            inserted = await conn.execute(
                self._insert(slack_events_t)
                .values(event_id=event_id, received_at=now)
                .on_conflict_do_nothing()
            )
            await conn.execute(
                delete(slack_events_t).where(slack_events_t.c.received_at < now - keep_seconds)
            )
            return bool(inserted.rowcount == 1)

    async def remember_home(self, user: str, now: float) -> None:
        """`user` opened the Home tab: from now on it is republished when their requests change."""
        async with self._write() as conn:
            inserted = await conn.execute(
                self._insert(home_viewers_t)
                .values(user_id=user, opened_at=now)
                .on_conflict_do_nothing()
            )
            if inserted.rowcount != 1:
                await conn.execute(
                    update(home_viewers_t)
                    .where(home_viewers_t.c.user_id == user)
                    .values(opened_at=now)
                )

    async def home_viewers(self, users: Collection[str]) -> list[str]:
        """Which of `users` have opened the Home tab (and so have one to keep up to date)."""
        if not users:
            return []
        async with self._read() as conn:
            rows = await conn.execute(_HOME_VIEWERS, {"users": sorted(users)})
            return list(rows.scalars())
