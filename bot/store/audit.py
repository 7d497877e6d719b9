"""The audit log as the audit code reads it: each request's chain, export rows with their
request, the live sink's batches, cursor and lease, and what the notifier told Slack.

The sink reads in (txid, id) order up to a visibility horizon: on PostgreSQL, ids are taken
when rows are inserted but become visible when their transactions commit, so reading by id
alone could pass an id whose transaction commits later. Below the oldest transaction still
running (`txid_snapshot_xmin`) nothing new can appear, so a cursor in that order never skips an
event. On SQLite writers are serialised and txid is 0: the order is the id order.

The cursor is a lease like the card outbox's: one replica delivers at a time, a crashed one's
lease lapses, and the cursor only moves forward past events a sink has accepted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from bot.audit.events import AuditEvent, ChainLink
from bot.core.models import Target
from bot.store.conditions import conditional, lapsed
from bot.store.database import Database
from bot.store.rows import from_row
from bot.store.schema import audit_cursor_t, events_t, requests_t, targets_t

__all__ = ["Audit", "Position"]

Position = tuple[int, int]  # (txid, id): where a sink's cursor stands


class Audit(Database):
    """Used by bot/audit (verify, export, the sink) and by the notifier's post records."""

    async def chain_links(
        self, *, after: tuple[int, int] = (0, 0), limit: int = 1000
    ) -> list[ChainLink]:
        """Events after (request id, event id), ordered by request then id: each request's
        chain in one piece, as stored."""
        request_id, event_id = after
        async with self._read() as conn:
            rows = await conn.execute(
                select(events_t)
                .where(
                    or_(
                        events_t.c.request_id > request_id,
                        and_(events_t.c.request_id == request_id, events_t.c.id > event_id),
                    )
                )
                .order_by(events_t.c.request_id, events_t.c.id)
                .limit(limit)
            )
            return [_link(r) for r in rows]

    async def requests_without_events(self) -> list[int]:
        """Requests whose whole history is gone (every request is filed with an event)."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id)
                .where(
                    ~select(events_t.c.id).where(events_t.c.request_id == requests_t.c.id).exists()
                )
                .order_by(requests_t.c.id)
            )
            return [int(r) for r in rows.scalars()]

    async def audit_events(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        since: float | None = None,
        org: str | None = None,
    ) -> list[AuditEvent]:
        """Events above id `after`, in id order, each with its request's org, action and
        targets; optionally only those at or after `since` and of one organization."""
        query = _with_request().where(events_t.c.id > after)
        if since is not None:
            query = query.where(events_t.c.at >= since)
        if org is not None:
            query = query.where(requests_t.c.org == org)
        async with self._read() as conn:
            rows = (await conn.execute(query.order_by(events_t.c.id).limit(limit))).all()
            return await _audit_events(conn, rows)

    # -- the live sink ----------------------------------------------------------------------

    async def sink_batch(self, after: Position, limit: int) -> list[AuditEvent]:
        """The next events for a sink standing at `after`, in (txid, id) order, only from
        transactions older than every one still running (so none can appear behind them)."""
        query = _with_request().where(_beyond(after)).where(self._settled())
        query = query.order_by(events_t.c.txid, events_t.c.id).limit(limit)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
            return await _audit_events(conn, rows)

    async def sink_has_more(self, sink: str) -> bool:
        """Whether a sink has anything left to deliver: reads, so an idle sink never writes."""
        after = await self.sink_cursor(sink)
        async with self._read() as conn:
            found = await conn.execute(
                select(events_t.c.id).where(_beyond(after)).where(self._settled()).limit(1)
            )
            return found.first() is not None

    async def sink_cursor(self, sink: str) -> Position:
        """Where `sink` stands: (0, 0) before its first delivery."""
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(audit_cursor_t.c.last_txid, audit_cursor_t.c.last_event_id).where(
                        audit_cursor_t.c.sink == sink
                    )
                )
            ).first()
            return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def lease_sink(
        self, sink: str, owner: str, now: float, lease_seconds: float
    ) -> Position | None:
        """Takes or renews the delivery lease of `sink` for `owner`, returning its cursor; None
        while another replica's lease is running."""
        async with self._write() as conn:
            await conn.execute(
                self._insert(audit_cursor_t)
                .values(sink=sink, last_txid=0, last_event_id=0, lease_until=None, owner=None)
                .on_conflict_do_nothing(index_elements=[audit_cursor_t.c.sink])
            )
            result = await conn.execute(
                conditional(
                    audit_cursor_t,
                    audit_cursor_t.c.sink == sink,
                    or_(audit_cursor_t.c.owner == owner, lapsed(audit_cursor_t.c.lease_until, now)),
                )
                .values(owner=owner, lease_until=now + lease_seconds)
                .returning(audit_cursor_t.c.last_txid, audit_cursor_t.c.last_event_id)
            )
            row = result.first()
            return None if row is None else (int(row[0]), int(row[1]))

    async def advance_sink(
        self,
        sink: str,
        owner: str,
        *,
        delivered_from: Position,
        delivered_to: Position,
        now: float,
        lease_seconds: float,
    ) -> bool:
        """Moves the cursor past a batch the sink accepted, if `owner` still holds the lease
        and nobody moved it meanwhile; False otherwise (the batch may then arrive twice)."""
        async with self._write() as conn:
            result = await conn.execute(
                conditional(
                    audit_cursor_t,
                    audit_cursor_t.c.sink == sink,
                    audit_cursor_t.c.owner == owner,
                    audit_cursor_t.c.last_txid == delivered_from[0],
                    audit_cursor_t.c.last_event_id == delivered_from[1],
                ).values(
                    last_txid=delivered_to[0],
                    last_event_id=delivered_to[1],
                    lease_until=now + lease_seconds,
                )
            )
            return bool(result.rowcount == 1)

    async def release_sink(self, sink: str, owner: str) -> None:
        """Gives the lease up (a clean stop), so another replica takes over at once."""
        async with self._write() as conn:
            await conn.execute(
                conditional(
                    audit_cursor_t, audit_cursor_t.c.sink == sink, audit_cursor_t.c.owner == owner
                ).values(lease_until=None, owner=None)
            )

    def _settled(self) -> ColumnElement[bool]:
        """Events whose transaction is older than every transaction still running."""
        if self.is_sqlite:
            return events_t.c.txid == 0
        return events_t.c.txid < func.txid_snapshot_xmin(func.txid_current_snapshot())

    # -- what Slack was told ----------------------------------------------------------------

    async def record_slack_post(
        self, request_id: int, step: str, channel: str, ts: str | None, now: float
    ) -> None:
        """One post the notifier made (thread reply, DM, outcome line, warning), where and
        with which ts, as an event of its request."""
        async with self._write() as conn:
            await self._event(
                conn,
                request_id,
                now,
                "bot",
                "slack_posted",
                {"step": step, "channel": channel, "ts": ts},
            )


def _with_request() -> Any:
    return select(events_t, requests_t.c.org, requests_t.c.action).join(
        requests_t, requests_t.c.id == events_t.c.request_id
    )


def _beyond(after: Position) -> ColumnElement[bool]:
    txid, event_id = after
    return or_(events_t.c.txid > txid, and_(events_t.c.txid == txid, events_t.c.id > event_id))


async def _audit_events(conn: AsyncConnection, rows: Sequence[Row[Any]]) -> list[AuditEvent]:
    targets = await _targets_of(conn, sorted({r.request_id for r in rows}))
    return [
        AuditEvent(link=_link(r), org=r.org, action=r.action, targets=targets.get(r.request_id, ()))
        for r in rows
    ]


def _link(row: Row[Any]) -> ChainLink:
    return from_row(
        ChainLink,
        row,
        seq=int(row.id),
        request_id=int(row.request_id),
        at=float(row.at),
        txid=int(row.txid),
    )


async def _targets_of(
    conn: AsyncConnection, request_ids: Sequence[int]
) -> dict[int, tuple[str, ...]]:
    """Each request's targets as shown everywhere (`+91… on app_…`, or the app id)."""
    if not request_ids:
        return {}
    found: dict[int, list[str]] = defaultdict(list)
    rows = await conn.execute(
        select(targets_t.c.request_id, targets_t.c.app_id, targets_t.c.number)
        .where(targets_t.c.request_id.in_(list(request_ids)))
        .order_by(targets_t.c.request_id, targets_t.c.idx)
    )
    for request_id, app_id, number in rows:
        found[int(request_id)].append(str(Target(app_id, number)))
    return {k: tuple(v) for k, v in found.items()}
