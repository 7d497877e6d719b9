"""Undo's facts in the store (bot/core/undo.py): at most one undo alive per request, decided
in the filing's transaction; what a request's card needs to offer one; `undone` on the
request taken back, in the transaction that finishes its undo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.models import Status
from bot.core.preview import UNDONE, Preview, Purpose
from bot.core.undo import WITHDRAWN
from bot.errors import Conflict
from bot.store.schema import request_previews_t, requests_t

__all__ = ["one_undo_alive", "undo_facts", "undone_event"]

Event = Callable[[AsyncConnection, int, float, str, str, dict[str, object]], Awaitable[None]]

_LIVE_UNDO = (
    select(requests_t.c.id, requests_t.c.status, requests_t.c.dedupe_key)
    .where(
        and_(
            requests_t.c.undoes == bindparam("id"),
            requests_t.c.status.not_in([s.value for s in WITHDRAWN]),
        )
    )
    .order_by(requests_t.c.id.desc())
    .limit(1)
)
_PRE_IMAGE = (
    select(request_previews_t.c.body)
    .where(
        and_(
            request_previews_t.c.request_id == bindparam("id"),
            request_previews_t.c.purpose == Purpose.BEFORE_EXECUTION.value,
        )
    )
    .order_by(request_previews_t.c.seq.desc())
    .limit(1)
)
_LOCK_ORIGINAL = select(requests_t.c.id).where(requests_t.c.id == bindparam("id")).with_for_update()
_UNDOES = select(requests_t.c.undoes).where(requests_t.c.id == bindparam("id"))


async def undo_facts(
    conn: AsyncConnection, request_id: int
) -> tuple[bool, tuple[int, Status] | None]:
    """Whether a readable pre-image was recorded before the request ran (an unreadable read
    is none), and its live undo, if any."""
    body = (await conn.execute(_PRE_IMAGE, {"id": request_id})).scalar()
    pre_image = body is not None and readable(body)
    live = (await conn.execute(_LIVE_UNDO, {"id": request_id})).first()
    return pre_image, None if live is None else (int(live.id), Status(live.status))


def readable(body: str) -> bool:
    try:
        return Preview.from_json(body).unreadable is None
    except ValueError:
        return False


async def one_undo_alive(
    conn: AsyncConnection, original: int, dedupe_key: str | None, *, is_sqlite: bool
) -> None:
    """Refuses a second undo of `original` while one is pending, running or done: in the new
    undo's transaction, the original's row locked first on PostgreSQL (SQLite's writer is
    alone), so two undos filed at once are decided one after the other. A replay of the live
    undo's own dedupe key passes (the insert answers it with that undo)."""
    if not is_sqlite:
        await conn.execute(_LOCK_ORIGINAL, {"id": original})
    live = (await conn.execute(_LIVE_UNDO, {"id": original})).first()
    if live is not None and (dedupe_key is None or live.dedupe_key != dedupe_key):
        state = Status(live.status)
        said = "already undone" if state is Status.SUCCEEDED else f"being undone ({state.value})"
        raise Conflict(f"request #{original} is {said} by request #{live.id}")


async def undone_event(
    conn: AsyncConnection, event: Event, request_id: int, status: Status, now: float
) -> None:
    """On the request an undo took back, once the undo succeeded: `undone` (in the caller's
    transaction, the one that finishes the undo)."""
    if status is not Status.SUCCEEDED:
        return
    original = (await conn.execute(_UNDOES, {"id": request_id})).scalar()
    if original is not None:
        await event(conn, int(original), now, "bot", UNDONE, {"by_request": request_id})
