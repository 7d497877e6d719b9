"""An approval bound to what was seen: a request whose preview changed before it ran goes back
to pending (executing → pending, under its claim), its approvals dropped, the new preview kept,
the change in its `drifted` event and owed to the card's thread, all in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, exists, select, update

from bot.core.deliveries import Kind
from bot.core.models import Request, Status
from bot.core.preview import DRIFTED, Preview, Purpose
from bot.errors import LostClaim
from bot.store.previews import Previews
from bot.store.requests import _OWN_TARGETS
from bot.store.schema import approvals_t, request_previews_t, requests_t
from bot.store.transitions import Transitions

__all__ = ["Rebinding"]


class Rebinding(Transitions, Previews):
    """Used by the workflow's binding (bot/core/workflow/binding.py)."""

    async def drift(
        self,
        request_id: int,
        claim: str,
        preview: Preview,
        *,
        now: float,
        detail: dict[str, object],
        owed: Sequence[tuple[Kind, str]] = (),
    ) -> Request:
        """executing → pending under our claim, LostClaim if it is not ours: the approvals
        given on the old preview deleted (their events stay), the targets reserved again
        (shared, as `--again`, if another pending request took them meanwhile), `preview`
        kept as `rebound`, a `drifted` event (`detail` plus its seq) and the thread's line."""
        async with self._write() as conn:
            moved = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.claim_token == claim,
                        requests_t.c.status == Status.EXECUTING.value,
                    )
                )
                .values(
                    status=Status.PENDING.value,
                    claim_token=None,
                    lease_until=None,
                    decided_by=None,
                )
            )
            if moved.rowcount != 1:
                raise LostClaim(request_id)
            await conn.execute(delete(approvals_t).where(approvals_t.c.request_id == request_id))
            await conn.execute(self._reservation("own", _OWN_TARGETS), {"id": request_id})
            stored = await self._keep_preview(
                conn, request_id, Purpose.REBOUND, preview, now, owed=owed
            )
            await self._event(conn, request_id, now, "bot", DRIFTED, {**detail, "seq": stored.seq})
            return await self._load(conn, request_id)

    async def unpreviewed(self, filed_before: float, limit: int = 100) -> list[int]:
        """Pending requests filed before `filed_before` whose preview was never recorded (the
        read after the ack did not happen: a crash, a restart)."""
        previewed = exists().where(request_previews_t.c.request_id == requests_t.c.id)
        query = (
            select(requests_t.c.id)
            .where(
                and_(
                    requests_t.c.status == Status.PENDING.value,
                    requests_t.c.break_glass == 0,
                    requests_t.c.created_at < filed_before,
                    ~previewed,
                )
            )
            .order_by(requests_t.c.id)
            .limit(limit)
        )
        async with self._read() as conn:
            return [int(r) for r in (await conn.execute(query)).scalars()]
