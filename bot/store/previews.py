"""Previews of requests (bot/core/preview.py): each read stored in order, with a `previewed`
event carrying its fingerprint in the same transaction, so the chained log says what an
approval was given on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.deliveries import Kind, posted_with
from bot.core.preview import PREVIEWED, Preview, Purpose, StoredPreview
from bot.errors import RequestNotFound, StoreError
from bot.store.database import Database
from bot.store.outbox import owe_posts
from bot.store.schema import request_previews_t, requests_t

__all__ = ["Previews"]

_REQUEST = select(requests_t.c.id).where(requests_t.c.id == bindparam("id"))
_LOCKED_REQUEST = _REQUEST.with_for_update(key_share=True)
_NEXT_SEQ = select(func.coalesce(func.max(request_previews_t.c.seq), 0) + 1).where(
    request_previews_t.c.request_id == bindparam("id")
)


class Previews(Database):
    """Used by the workflow when filing and before running."""

    async def record_preview(
        self,
        request_id: int,
        purpose: Purpose,
        preview: Preview,
        *,
        now: float,
        event: bool = True,
        owed: Sequence[tuple[Kind, str]] = (),
        policy: Mapping[str, object] | None = None,
    ) -> StoredPreview:
        """Stores `preview` as the request's next one and, with `event`, its `previewed`
        event, and the posts it makes owed (`owed`: kind and recipient, each keyed with its
        seq); `policy`: the rules decided again on its linked count, as a `policy_redecided`
        event. Raises RequestNotFound for an unknown request."""
        async with self._write() as conn:
            stored = await self._keep_preview(conn, request_id, purpose, preview, now, event, owed)
            if policy is not None:
                await self._event(conn, request_id, now, "bot", "policy_redecided", dict(policy))
            return stored

    async def _keep_preview(
        self,
        conn: AsyncConnection,
        request_id: int,
        purpose: Purpose,
        preview: Preview,
        now: float,
        event: bool = True,
        owed: Sequence[tuple[Kind, str]] = (),
    ) -> StoredPreview:
        """`record_preview` within the caller's transaction (a drift keeps its preview in
        the transition's)."""
        stored = StoredPreview(request_id, 0, purpose, now, preview.fingerprint(), preview)
        lock = _REQUEST if self.is_sqlite else _LOCKED_REQUEST  # seq taken in turn
        if (await conn.execute(lock, {"id": request_id})).first() is None:
            raise RequestNotFound(f"there is no request #{request_id}")
        seq = int((await conn.execute(_NEXT_SEQ, {"id": request_id})).scalar_one())
        stored = replace(stored, seq=seq)
        await conn.execute(
            request_previews_t.insert().values(
                request_id=request_id,
                seq=seq,
                purpose=purpose.value,
                taken_at=now,
                fingerprint=stored.fingerprint,
                body=preview.to_json(),
            )
        )
        if event:
            await self._event(conn, request_id, now, "bot", PREVIEWED, stored.event_detail())
        for kind, recipient in owed:
            await owe_posts(conn, self._insert, request_id, kind, [posted_with(recipient, seq)])
        if purpose.binds:  # what approvals are given on: the rules select by its linked count
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(linked_numbers=preview.linked_numbers())
            )
        return stored

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None:
        """The request's newest preview (of `purpose`, if given), or None."""
        query = select(request_previews_t).where(request_previews_t.c.request_id == request_id)
        if purpose is not None:
            query = query.where(request_previews_t.c.purpose == purpose.value)
        query = query.order_by(request_previews_t.c.seq.desc()).limit(1)
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored(row)

    async def previews(self, request_id: int) -> list[StoredPreview]:
        """Every preview of the request, oldest first."""
        query = (
            select(request_previews_t)
            .where(request_previews_t.c.request_id == request_id)
            .order_by(request_previews_t.c.seq)
        )
        async with self._read() as conn:
            return [_stored(row) for row in await conn.execute(query)]


def _stored(row: Row[Any]) -> StoredPreview:
    try:
        preview = Preview.from_json(row.body)
        purpose = Purpose(row.purpose)
    except ValueError as exc:
        raise StoreError(f"request #{row.request_id}'s preview {row.seq} is unreadable") from exc
    return StoredPreview(row.request_id, row.seq, purpose, row.taken_at, row.fingerprint, preview)
