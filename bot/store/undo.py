"""The running side of an undo in the store: a recreate attempted (recorded before the call),
and the app it made (recorded under the claim before any number is linked to it)."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.store.conditions import conditional
from bot.store.schema import targets_t
from bot.store.transitions import Transitions, _target

__all__ = ["Undos"]


class Undos(Transitions):
    """The running side of an undo: a recreate attempted, and the app it made."""

    async def attempt_create(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> float | None:
        """Records that an app is about to be created for target `idx` (before the call), and
        returns when an earlier attempt was, if one was: that one may have made the app."""
        async with self._write() as conn:
            await self._held(conn, request_id, claim, lease_until=lease_until)
            where = _target(request_id, idx)
            earlier = (await conn.execute(select(targets_t.c.started_at).where(where))).scalar()
            if earlier is not None:
                return float(earlier)
            await conn.execute(update(targets_t).where(where).values(started_at=now))
            return None

    async def record_new_app(
        self,
        request_id: int,
        idx: int,
        claim: str,
        *,
        app_id: str,
        now: float,
        lease_until: float,
    ) -> str:
        """Keeps the first app recorded for target `idx` (its `recreated` event with it) and
        returns the one kept: a retry after a crash cannot replace it."""
        async with self._write() as conn:
            await self._held(conn, request_id, claim, lease_until=lease_until)
            where = _target(request_id, idx)
            done = await conn.execute(
                conditional(targets_t, where, targets_t.c.new_app_id.is_(None)).values(
                    new_app_id=app_id
                )
            )
            row = (
                await conn.execute(select(targets_t.c.app_id, targets_t.c.new_app_id).where(where))
            ).one()
            if done.rowcount == 1:
                detail = {"app_id": row.app_id, "new_app_id": app_id}
                await self._event(conn, request_id, now, "sfvopi", "recreated", detail)
            return str(row.new_app_id)
