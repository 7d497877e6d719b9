"""The shared base of the store: one engine, its transactions, events, and loading a request.

Every write goes through `_write`: on SQLite a BEGIN IMMEDIATE transaction behind the write
gate (two processes serialise instead of failing on upgrade), on PostgreSQL a plain one where
rows that a read decides a write on are locked FOR UPDATE. A task with a deadline (a slash
command's, bot/core/deadline.py) waits for another process's SQLite lock only until then.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.audit.chain import GENESIS, event_hash, new_uid
from bot.core import deadline
from bot.core.models import (
    Action,
    Approval,
    Outcome,
    Request,
    Review,
    Status,
    Target,
    TargetState,
)
from bot.errors import Busy
from bot.store.engine import WriteGate, async_url, make_engine
from bot.store.migrate import at_head, upgrade
from bot.store.migrate_child import upgrade_in_child
from bot.store.schema import (
    approvals_t,
    events_t,
    requests_t,
    slack_deliveries_t,
    targets_t,
)
from bot.store.undo_facts import undo_facts

__all__ = ["Database"]

# Built once: a statement built per call costs more in SQLAlchemy than SQLite takes to run it
# (its construction and cache key; issue 16, benchmarks/README.md).
_REQUEST_BY_ID = select(requests_t).where(requests_t.c.id == bindparam("id"))
_TARGETS_OF = (
    select(targets_t).where(targets_t.c.request_id == bindparam("id")).order_by(targets_t.c.idx)
)
_APPROVALS_OF = (
    select(approvals_t)
    .where(approvals_t.c.request_id == bindparam("id"))
    .order_by(approvals_t.c.at, approvals_t.c.approver)
)
_ESCALATED = select(slack_deliveries_t.c.id).where(  # a break-glass review escalated
    slack_deliveries_t.c.request_id == bindparam("id"),
    slack_deliveries_t.c.kind == "review_escalated",
    slack_deliveries_t.c.recipient == "",
    slack_deliveries_t.c.done_at.is_not(None),
)
_LAST_HASH = (
    select(events_t.c.hash)
    .where(events_t.c.request_id == bindparam("id"))
    .order_by(events_t.c.id.desc())
    .limit(1)
)
_INSERT_EVENT = events_t.insert()
_INSERT_EVENT_PG = events_t.insert().values(txid=func.txid_current())
LOCK_POLL = 0.02  # seconds between tries for another process's SQLite lock, with a deadline
LOCKED = (
    "another process is writing to the database and did not let go in time, so the bot did "
    "nothing: nothing was filed or changed. Try again in a moment."
)
_LOCK_REQUEST = (
    select(requests_t.c.id)
    .where(requests_t.c.id == bindparam("id"))
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as an UPDATE takes
)


class Database:
    """Owns the engine; the request and outbox halves of the store build on it."""

    def __init__(self, url: str, *, engine_options: dict[str, Any] | None = None) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = make_engine(self.url, **(engine_options or {}))
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._engine_options = bool(engine_options)
        self._write_gate = WriteGate()
        self._prepared: dict[str, Any] = {}  # statements built once, in this dialect

    async def start(self, *, upgrade_in_child_process: bool = False) -> None:
        """Creates or upgrades the schema; safe to run from several processes at once.

        With `upgrade_in_child_process` (a long-lived process: the bot), an upgrade runs in a
        child process (bot/store/migrate_child.py) and this one never imports Alembic; only
        where a child cannot reach the same database (in memory, engine options it lacks) or
        there is no interpreter to start it with does the upgrade run here after all."""
        if upgrade_in_child_process and self._child_can_upgrade():
            async with self._write() as conn:
                if await at_head(conn):
                    return
            await upgrade_in_child(self.url)
            return
        async with self._write() as conn:
            await upgrade(conn)

    def _child_can_upgrade(self) -> bool:
        database = make_url(self.url).database
        in_memory = not database or database == ":memory:" or database.startswith("file:")
        return (
            bool(sys.executable) and not self._engine_options and not (self.is_sqlite and in_memory)
        )

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(select(1))
            return True
        except Exception:
            return False

    # -- transactions ---------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite one at a time, `urgent` ones (someone waits) first."""
        if self.is_sqlite:
            async with self._write_gate.hold(urgent=urgent), self._sqlite_begin() as conn:
                yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _sqlite_begin(self) -> AsyncIterator[AsyncConnection]:
        """BEGIN IMMEDIATE. Without a deadline SQLite's busy timeout waits for another
        process's lock (blocking); with one, tries are made off the loop until the deadline,
        then Busy: the transaction never began, nothing was written."""
        left = deadline.remaining()
        while True:
            begun = False
            try:
                async with self.engine.connect() as conn:
                    conn = await conn.execution_options(
                        sqlite_immediate=True, sqlite_nowait=left is not None
                    )
                    async with conn.begin():
                        begun = True
                        yield conn
                return
            except OperationalError as error:
                if begun or left is None or "locked" not in str(error.orig):
                    raise
            left = deadline.remaining() or 0.0
            if left <= 0:
                raise Busy(LOCKED, "locked")
            await asyncio.sleep(min(LOCK_POLL, left))

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, for ON CONFLICT DO NOTHING (both dialects spell it alike)."""
        if self.is_sqlite:
            return sqlite.insert(table)
        # imported here: the PostgreSQL dialect costs ~2 MB of RSS a SQLite bot never uses
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)

    async def _lock_request(self, conn: AsyncConnection, request_id: int) -> None:
        """Holds the request's row to commit, so writers that read before they write about it
        take turns (SQLite: the write transaction already does)."""
        if not self.is_sqlite:
            await conn.execute(_LOCK_REQUEST, {"id": request_id})

    async def _event(
        self,
        conn: AsyncConnection,
        request_id: int,
        at: float,
        actor: str,
        kind: str,
        detail: dict[str, object] | None = None,
        *,
        first: bool = False,
    ) -> None:
        """Appends to the audit trail, inside the caller's transaction so both land or neither,
        chained to the request's previous event (bot/audit/chain.py, docs/audit.md); `first`
        says the request was inserted in this very transaction, so nothing precedes it.

        A request's event writers take turns on its row: on PostgreSQL it is locked here (the
        callers that changed it hold the lock already), so the previous hash read next is the
        true one; SQLite's BEGIN IMMEDIATE serialises every writer. On PostgreSQL the row also
        records its transaction's id, which the live sink orders by (bot/store/audit.py)."""
        prev: str | None = None
        if not first:
            await self._lock_request(conn, request_id)
            prev = (await conn.execute(_LAST_HASH, {"id": request_id})).scalar()
        text = json.dumps(detail or {}, sort_keys=True)
        uid, prev = new_uid(), prev or GENESIS
        await conn.execute(
            _INSERT_EVENT if self.is_sqlite else _INSERT_EVENT_PG,
            {
                "request_id": request_id,
                "at": at,
                "actor": actor,
                "kind": kind,
                "detail": text,
                "uid": uid,
                **({"txid": 0} if self.is_sqlite else {}),
                "prev_hash": prev,
                "hash": event_hash(
                    uid=uid,
                    request_id=request_id,
                    at=at,
                    actor=actor,
                    kind=kind,
                    detail=text,
                    prev_hash=prev,
                ),
            },
        )

    # -- loading --------------------------------------------------------------------------

    async def _load_maybe(
        self, conn: AsyncConnection, request_id: int, orgs: Collection[str] | None = None
    ) -> Request | None:
        row = (await conn.execute(_REQUEST_BY_ID, {"id": request_id})).first()
        if row is None or (orgs is not None and row.org not in orgs):
            return None
        return await self._hydrate(conn, row)

    async def _load(self, conn: AsyncConnection, request_id: int) -> Request:
        request = await self._load_maybe(conn, request_id)
        if request is None:
            raise LookupError(request_id)
        return request

    async def _hydrate(self, conn: AsyncConnection, row: Row[Any]) -> Request:
        """A request row plus its targets and approvals, as the immutable model the core uses."""
        trows = await conn.execute(_TARGETS_OF, {"id": row.id})
        arows = await conn.execute(_APPROVALS_OF, {"id": row.id})
        status = Status(row.status)
        # read only for a request that ran: what its card needs to offer an undo
        pre_image, undo = (
            await undo_facts(conn, row.id) if status.ran and status.final else (False, None)
        )
        return Request(
            id=row.id,
            org=row.org,
            action=Action(row.action),
            requester=row.requester,
            reason=row.reason,
            status=status,
            approvals_needed=row.approvals_needed,
            created_at=row.created_at,
            expires_at=row.expires_at,
            targets=tuple(
                TargetState(
                    target=Target(app_id=t.app_id, number=t.number),
                    outcome=Outcome(t.outcome) if t.outcome else None,
                    status_code=t.status_code,
                    message=t.message,
                    attempts=t.attempts,
                    new_app_id=t.new_app_id,
                )
                for t in trows
            ),
            approvals=tuple(Approval(approver=a.approver, at=a.at, note=a.note) for a in arows),
            decided_by=row.decided_by,
            decision_note=row.decision_note,
            slack_problem=row.slack_problem,
            finished_at=row.finished_at,
            channel_id=row.channel_id,
            response_url=row.response_url,
            card_channel=row.card_channel,
            card_ts=row.card_ts,
            notified_at=row.notified_at,
            executions=row.executions,
            break_glass=bool(row.break_glass),
            incident=row.incident,
            review=Review(row.review) if row.review else None,
            reviewed_by=row.reviewed_by,
            review_note=row.review_note,
            reviewed_at=row.reviewed_at,
            review_due_at=row.review_due_at,
            review_escalated=bool(row.break_glass)
            and (await conn.execute(_ESCALATED, {"id": row.id})).first() is not None,
            filed_by_step=bool(row.filed_by_step),
            undoes=row.undoes,
            run_after=row.run_after,
            run_at=row.run_at,
            run_until=row.run_until,
            pre_image=pre_image,
            undo=undo,
        )
