"""Durable state of requests: tables, and atomic transitions that rule out a double execution.

Every transition is one conditional UPDATE plus its event row in one transaction. On SQLite a
write transaction starts with BEGIN IMMEDIATE (so two processes serialise instead of failing
on upgrade); on PostgreSQL the request row is locked FOR UPDATE where a read decides a write.
"""

from __future__ import annotations

import asyncio
import collections
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.core.models import Action, Approval, Event, Outcome, Request, Status, Target, TargetState
from bot.core.ports import ApprovalRecord
from bot.errors import LostClaim, SchemaTooNew

SCHEMA_VERSION = 2
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE requests ADD COLUMN announced INTEGER NOT NULL DEFAULT 0",),
}
SCHEMA_LOCK_ID = 0x5F0_0B07

metadata = MetaData()

requests_t = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("requester", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("approvals_needed", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_by", String(32)),
    Column("finished_at", Float),
    Column("channel_id", String(32)),
    Column("response_url", Text),
    Column("dedupe_key", String(200), unique=True),
    Column("card_channel", String(32)),
    Column("card_ts", String(32)),
    Column("card_lease_until", Float),
    Column("claim_token", String(64)),
    Column("lease_until", Float),
    Column("executions", Integer, nullable=False, default=0),
    Column("notified_at", Float),
    Column("notify_lease_until", Float),
    Column("announced", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_requests_status", "status"),
    Index("ix_requests_org_created", "org", "created_at"),
)

targets_t = Table(
    "targets",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("app_id", String(80), nullable=False),
    Column("number", String(20)),
    Column("started_at", Float),
    Column("outcome", String(16)),
    Column("status_code", Integer),
    Column("message", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("finished_at", Float),
)

approvals_t = Table(
    "approvals",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id"), primary_key=True),
    Column("approver", String(32), primary_key=True),
    Column("at", Float, nullable=False),
)

events_t = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("actor", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
)

schema_meta_t = Table(
    "schema_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)


ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgres+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> str:
    """Selects the async driver, so a plain `postgresql://` or `sqlite:///` URL works."""
    scheme, sep, rest = url.partition("://")
    return ASYNC_DRIVERS.get(scheme, scheme) + sep + rest


class Store:
    """The only code that reads or writes the database."""

    def __init__(self, url: str, *, engine_options: dict[str, Any] | None = None) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_pre_ping=True, **(engine_options or {})
        )
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_gate = _WriteGate()
        if self.is_sqlite:
            _sqlite_transactions(self.engine)

    async def start(self) -> None:
        """Creates or upgrades the schema; safe to run from several processes at once."""
        async with self._write() as conn:
            if not self.is_sqlite:
                await conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_ID)))
            await conn.run_sync(metadata.create_all, checkfirst=True)
            row = (
                await conn.execute(
                    select(schema_meta_t.c.value).where(schema_meta_t.c.key == "version")
                )
            ).first()
            if row is None:
                stmt = self._insert(schema_meta_t).values(key="version", value=str(SCHEMA_VERSION))
                await conn.execute(stmt.on_conflict_do_nothing())
                return
            found = int(row[0])
            if found > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"database schema version {found} is newer than this bot's "
                    f"({SCHEMA_VERSION}): upgrade sfvopi-bot"
                )
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    await conn.exec_driver_sql(statement)
            if found < SCHEMA_VERSION:
                await conn.execute(
                    update(schema_meta_t)
                    .where(schema_meta_t.c.key == "version")
                    .values(value=str(SCHEMA_VERSION))
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
            async with self._write_gate.hold(urgent=urgent), self.engine.connect() as conn:
                conn = await conn.execution_options(sqlite_immediate=True)
                async with conn.begin():
                    yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    def _insert(self, table: Table) -> Any:
        if self.is_sqlite:
            return sqlite.insert(table)
        # imported here: the PostgreSQL dialect costs ~2 MB of RSS a SQLite bot never uses
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)

    async def _event(
        self,
        conn: AsyncConnection,
        request_id: int,
        at: float,
        actor: str,
        kind: str,
        detail: dict[str, object] | None = None,
    ) -> None:
        await conn.execute(
            events_t.insert().values(
                request_id=request_id,
                at=at,
                actor=actor,
                kind=kind,
                detail=json.dumps(detail or {}, sort_keys=True),
            )
        )

    # -- creating and reading -------------------------------------------------------------

    async def create_request(
        self,
        *,
        org: str,
        action: Action,
        requester: str,
        reason: str,
        targets: Sequence[Target],
        approvals_needed: int,
        now: float,
        expires_at: float,
        channel_id: str | None = None,
        response_url: str | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[Request, bool]:
        """Stores a pending request; the same dedupe key returns the first one, not a second.

        Urgent: a slash command's ack waits on this, so it goes ahead of background writes
        (card posts, executions) queued for SQLite's single writer.
        """
        async with self._write(urgent=True) as conn:
            result = await conn.execute(
                self._insert(requests_t)
                .values(
                    org=org,
                    action=action.value,
                    requester=requester,
                    reason=reason,
                    status=Status.PENDING.value,
                    approvals_needed=approvals_needed,
                    created_at=now,
                    expires_at=expires_at,
                    channel_id=channel_id,
                    response_url=response_url,
                    dedupe_key=dedupe_key,
                    executions=0,
                )
                .on_conflict_do_nothing(index_elements=[requests_t.c.dedupe_key])
                .returning(requests_t.c.id)
            )
            inserted = result.scalar()
            if inserted is None:
                existing = (
                    await conn.execute(
                        select(requests_t.c.id).where(requests_t.c.dedupe_key == dedupe_key)
                    )
                ).scalar_one()
                return await self._load(conn, existing), False
            request_id = int(inserted)
            await conn.execute(
                targets_t.insert(),
                [
                    {
                        "request_id": request_id,
                        "idx": i,
                        "app_id": t.app_id,
                        "number": t.number,
                        "attempts": 0,
                    }
                    for i, t in enumerate(targets)
                ],
            )
            await self._event(
                conn,
                request_id,
                now,
                requester,
                "requested",
                {"action": action.value, "targets": [str(t) for t in targets], "reason": reason},
            )
        stored = Request(
            id=request_id,
            org=org,
            action=action,
            requester=requester,
            reason=reason,
            status=Status.PENDING,
            approvals_needed=approvals_needed,
            created_at=now,
            expires_at=expires_at,
            targets=tuple(TargetState(target=t) for t in targets),
            channel_id=channel_id,
            response_url=response_url,
        )
        return stored, True

    async def get(self, request_id: int) -> Request | None:
        async with self._read() as conn:
            return await self._load_maybe(conn, request_id)

    async def list_requests(
        self,
        *,
        orgs: Iterable[str],
        statuses: Iterable[Status] | None = None,
        limit: int = 20,
    ) -> list[Request]:
        """Newest first, so `history` shows what just happened."""
        query = select(requests_t.c.id).where(requests_t.c.org.in_(list(orgs)))
        if statuses is not None:
            query = query.where(requests_t.c.status.in_([s.value for s in statuses]))
        query = query.order_by(requests_t.c.id.desc()).limit(limit)
        async with self._read() as conn:
            ids = (await conn.execute(query)).scalars().all()
            return [await self._load(conn, i) for i in ids]

    async def events(self, request_id: int) -> list[Event]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(events_t).where(events_t.c.request_id == request_id).order_by(events_t.c.id)
            )
            return [
                Event(
                    request_id=r.request_id,
                    at=r.at,
                    actor=r.actor,
                    kind=r.kind,
                    detail=json.loads(r.detail),
                )
                for r in rows
            ]

    async def _load_maybe(self, conn: AsyncConnection, request_id: int) -> Request | None:
        row = (await conn.execute(select(requests_t).where(requests_t.c.id == request_id))).first()
        if row is None:
            return None
        return await self._hydrate(conn, row)

    async def _load(self, conn: AsyncConnection, request_id: int) -> Request:
        request = await self._load_maybe(conn, request_id)
        if request is None:
            raise LookupError(request_id)
        return request

    async def _hydrate(self, conn: AsyncConnection, row: Row[Any]) -> Request:
        trows = await conn.execute(
            select(targets_t).where(targets_t.c.request_id == row.id).order_by(targets_t.c.idx)
        )
        arows = await conn.execute(
            select(approvals_t)
            .where(approvals_t.c.request_id == row.id)
            .order_by(approvals_t.c.at, approvals_t.c.approver)
        )
        return Request(
            id=row.id,
            org=row.org,
            action=Action(row.action),
            requester=row.requester,
            reason=row.reason,
            status=Status(row.status),
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
                )
                for t in trows
            ),
            approvals=tuple(Approval(approver=a.approver, at=a.at) for a in arows),
            decided_by=row.decided_by,
            finished_at=row.finished_at,
            channel_id=row.channel_id,
            response_url=row.response_url,
            card_channel=row.card_channel,
            card_ts=row.card_ts,
            notified_at=row.notified_at,
            announced=row.announced,
            executions=row.executions,
        )

    # -- transitions ----------------------------------------------------------------------

    async def approve(
        self, request_id: int, *, approver: str, now: float, lease_seconds: float
    ) -> ApprovalRecord:
        """Counts one approver once; the click that completes the quorum alone wins the claim."""
        async with self._write() as conn:
            row = (
                await conn.execute(
                    select(
                        requests_t.c.status, requests_t.c.approvals_needed, requests_t.c.expires_at
                    )
                    .where(requests_t.c.id == request_id)
                    .with_for_update()
                )
            ).first()
            if row is None:
                raise LookupError(request_id)
            if row.status == Status.PENDING.value and now >= row.expires_at:
                await conn.execute(
                    update(requests_t)
                    .where(requests_t.c.id == request_id)
                    .values(status=Status.EXPIRED.value, decided_by="bot", finished_at=now)
                )
                await self._event(conn, request_id, now, "bot", "expired")
                return ApprovalRecord(
                    await self._load(conn, request_id), False, None, Status.EXPIRED
                )
            if row.status != Status.PENDING.value:
                return ApprovalRecord(
                    await self._load(conn, request_id), False, None, Status(row.status)
                )
            inserted = await conn.execute(
                self._insert(approvals_t)
                .values(request_id=request_id, approver=approver, at=now)
                .on_conflict_do_nothing()
            )
            counted = inserted.rowcount == 1
            claim: str | None = None
            if counted:
                await self._event(conn, request_id, now, approver, "approved")
                have = (
                    await conn.execute(
                        select(func.count())
                        .select_from(approvals_t)
                        .where(approvals_t.c.request_id == request_id)
                    )
                ).scalar_one()
                if have >= row.approvals_needed:
                    claim = await self._claim(conn, request_id, Status.PENDING, now, lease_seconds)
                    if claim is not None:
                        await conn.execute(
                            update(requests_t)
                            .where(requests_t.c.id == request_id)
                            .values(decided_by=approver)
                        )
            return ApprovalRecord(await self._load(conn, request_id), counted, claim)

    async def _claim(
        self,
        conn: AsyncConnection,
        request_id: int,
        expected: Status,
        now: float,
        lease_seconds: float,
        old_token: str | None = None,
    ) -> str | None:
        token = uuid.uuid4().hex
        conditions = [requests_t.c.id == request_id, requests_t.c.status == expected.value]
        if old_token is not None:
            conditions += [requests_t.c.claim_token == old_token, requests_t.c.lease_until < now]
        result = await conn.execute(
            update(requests_t)
            .where(and_(*conditions))
            .values(
                status=Status.EXECUTING.value,
                claim_token=token,
                lease_until=now + lease_seconds,
                executions=requests_t.c.executions + 1,
            )
        )
        if result.rowcount != 1:
            return None
        kind = "claimed" if old_token is None else "reclaimed"
        await self._event(conn, request_id, now, "bot", kind, {"lease_seconds": lease_seconds})
        return token

    async def transition(
        self,
        request_id: int,
        *,
        to: Status,
        actor: str,
        now: float,
        kind: str,
        detail: dict[str, object] | None = None,
    ) -> Request | None:
        """pending → denied / cancelled / expired; None when the request was no longer pending."""
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.status == Status.PENDING.value,
                    )
                )
                .values(status=to.value, decided_by=actor, finished_at=now)
            )
            if result.rowcount != 1:
                return None
            await self._event(conn, request_id, now, actor, kind, detail)
            return await self._load(conn, request_id)

    async def due_for_expiry(self, now: float) -> list[int]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id).where(
                    and_(
                        requests_t.c.status == Status.PENDING.value,
                        requests_t.c.expires_at <= now,
                    )
                )
            )
            return list(rows.scalars())

    async def reclaim_stale(self, now: float, lease_seconds: float) -> list[tuple[int, str]]:
        """Takes over executions whose worker stopped renewing its lease (it crashed)."""
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(requests_t.c.id, requests_t.c.claim_token).where(
                        and_(
                            requests_t.c.status == Status.EXECUTING.value,
                            requests_t.c.lease_until < now,
                        )
                    )
                )
            ).all()
        taken: list[tuple[int, str]] = []
        for request_id, old in rows:
            async with self._write() as conn:
                token = await self._claim(
                    conn, request_id, Status.EXECUTING, now, lease_seconds, old_token=old
                )
            if token is not None:
                taken.append((request_id, token))
        return taken

    async def renew(self, request_id: int, claim: str, until: float) -> None:
        async with self._write() as conn:
            await self._renew(conn, request_id, claim, until)

    async def _renew(
        self, conn: AsyncConnection, request_id: int, claim: str, until: float
    ) -> None:
        result = await conn.execute(
            update(requests_t)
            .where(
                and_(
                    requests_t.c.id == request_id,
                    requests_t.c.claim_token == claim,
                    requests_t.c.status == Status.EXECUTING.value,
                )
            )
            .values(lease_until=until)
        )
        if result.rowcount != 1:
            raise LostClaim(request_id)

    async def start_target(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> bool:
        """Marks a target as sent before the call; returns whether an earlier try was sent."""
        async with self._write() as conn:
            await self._renew(conn, request_id, claim, lease_until)
            earlier = (
                await conn.execute(
                    select(targets_t.c.started_at).where(
                        and_(targets_t.c.request_id == request_id, targets_t.c.idx == idx)
                    )
                )
            ).scalar()
            await conn.execute(
                update(targets_t)
                .where(and_(targets_t.c.request_id == request_id, targets_t.c.idx == idx))
                .values(started_at=now)
            )
            return earlier is not None

    async def record_target(
        self,
        request_id: int,
        idx: int,
        claim: str,
        *,
        outcome: Outcome,
        status_code: int | None,
        message: str,
        attempts: int,
        now: float,
        lease_until: float,
    ) -> None:
        async with self._write() as conn:
            await self._renew(conn, request_id, claim, lease_until)
            await conn.execute(
                update(targets_t)
                .where(
                    and_(
                        targets_t.c.request_id == request_id,
                        targets_t.c.idx == idx,
                        targets_t.c.outcome.is_(None),
                    )
                )
                .values(
                    outcome=outcome.value,
                    status_code=status_code,
                    message=message,
                    attempts=targets_t.c.attempts + attempts,
                    finished_at=now,
                )
            )
            target = (
                await conn.execute(
                    select(targets_t.c.app_id, targets_t.c.number).where(
                        and_(targets_t.c.request_id == request_id, targets_t.c.idx == idx)
                    )
                )
            ).one()
            await self._event(
                conn,
                request_id,
                now,
                "sfvopi",
                "api_result",
                {
                    "target": str(Target(target.app_id, target.number)),
                    "outcome": outcome.value,
                    "status_code": status_code,
                    "message": message,
                    "attempts": attempts,
                },
            )

    async def finish(self, request_id: int, claim: str, *, status: Status, now: float) -> Request:
        async with self._write() as conn:
            result = await conn.execute(
                update(requests_t)
                .where(
                    and_(
                        requests_t.c.id == request_id,
                        requests_t.c.claim_token == claim,
                        requests_t.c.status == Status.EXECUTING.value,
                    )
                )
                .values(status=status.value, finished_at=now, lease_until=None)
            )
            if result.rowcount != 1:
                raise LostClaim(request_id)
            await self._event(conn, request_id, now, "bot", status.value)
            return await self._load(conn, request_id)

    # -- the Slack outbox: cards to post, outcomes to announce ----------------------------

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
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(card_channel=channel, card_ts=ts, card_lease_until=None)
            )
            await self._event(conn, request_id, now, "bot", "card_posted", {"channel": channel})

    async def claim_notify(self, request_id: int, now: float, lease_seconds: float) -> bool:
        return await self._lease(
            request_id,
            requests_t.c.notified_at.is_(None),
            requests_t.c.notify_lease_until,
            now,
            lease_seconds,
        )

    async def mark_announced(self, request_id: int, step: int) -> None:
        """Remembers one announcement post, so a retry after a failure or crash skips it."""
        async with self._write() as conn:
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(announced=requests_t.c.announced.op("|")(step))
            )

    async def mark_notified(self, request_id: int, now: float) -> None:
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


class _WriteGate:
    """One SQLite writer at a time, like an asyncio.Lock, but urgent waiters are served first.

    Without it an ack (creating a request) queued behind every background write in flight:
    100 approvals clicked at once held new commands' acks for 1-2 s (benchmarks/README.md).
    At most MAX_URGENT_RUN urgent holders in a row while others wait: with 1, urgent and
    background writes alternate, so an ack waits for at most one background write, and a
    flood of commands cannot starve card posts and executions (nor pile them up in memory).
    """

    MAX_URGENT_RUN = 1

    def __init__(self) -> None:
        self._busy = False
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._normal: collections.deque[asyncio.Future[None]] = collections.deque()
        self._urgent_run = 0

    @asynccontextmanager
    async def hold(self, *, urgent: bool) -> AsyncIterator[None]:
        if self._busy:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._normal).append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed the gate just as we were cancelled: pass it on
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        """Hands the gate to the next live waiter (it stays busy), or frees it."""
        prefer_urgent = self._urgent_run < self.MAX_URGENT_RUN or not self._normal
        order = (self._urgent, self._normal) if prefer_urgent else (self._normal, self._urgent)
        for queue in order:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    self._urgent_run = self._urgent_run + 1 if queue is self._urgent else 0
                    waiter.set_result(None)
                    return
        self._urgent_run = 0
        self._busy = False


def _sqlite_transactions(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE for writes: SQLite's own locking, done right."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
