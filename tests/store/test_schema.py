"""The schema comes from Alembic: new databases get head, databases made before Alembic are
adopted without losing a row, restarts change nothing, and a newer database is refused."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.models import (
    Action,
    Approval,
    Event,
    NewRequest,
    Outcome,
    Request,
    Status,
    Target,
    TargetState,
)
from bot.errors import SchemaTooNew
from bot.store import SCHEMA_VERSION, Store, migrate
from bot.store.engine import make_engine
from bot.store.migrate import alembic_config
from bot.store.schema import metadata, schema_meta_t
from tests.support.database import StoreFactory

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()

# What bot/store/store.py's metadata.create_all made before Alembic (CreateTable compiled for
# each dialect), then schema_meta's version row; {serial} is SERIAL on PostgreSQL.
LEGACY_REQUESTS = """
CREATE TABLE requests (
    id {serial} NOT NULL,
    org VARCHAR(64) NOT NULL,
    action VARCHAR(16) NOT NULL,
    requester VARCHAR(32) NOT NULL,
    reason TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    approvals_needed INTEGER NOT NULL,
    created_at FLOAT NOT NULL,
    expires_at FLOAT NOT NULL,
    decided_by VARCHAR(32),
    finished_at FLOAT,
    channel_id VARCHAR(32),
    response_url TEXT,
    dedupe_key VARCHAR(200),
    card_channel VARCHAR(32),
    card_ts VARCHAR(32),
    card_lease_until FLOAT,
    claim_token VARCHAR(64),
    lease_until FLOAT,
    executions INTEGER NOT NULL,
    notified_at FLOAT,
    notify_lease_until FLOAT,{announced}
    PRIMARY KEY (id),
    UNIQUE (dedupe_key)
)"""
V2_ANNOUNCED = "\n    announced INTEGER DEFAULT '0' NOT NULL,"
LEGACY_REST = [
    "CREATE INDEX ix_requests_status ON requests (status)",
    "CREATE INDEX ix_requests_org_created ON requests (org, created_at)",
    """CREATE TABLE schema_meta (
        "key" VARCHAR(32) NOT NULL,
        value VARCHAR(64) NOT NULL,
        PRIMARY KEY ("key")
    )""",
    """CREATE TABLE approvals (
        request_id INTEGER NOT NULL,
        approver VARCHAR(32) NOT NULL,
        at FLOAT NOT NULL,
        PRIMARY KEY (request_id, approver),
        FOREIGN KEY(request_id) REFERENCES requests (id)
    )""",
    """CREATE TABLE events (
        id {serial} NOT NULL,
        request_id INTEGER NOT NULL,
        at FLOAT NOT NULL,
        actor VARCHAR(32) NOT NULL,
        kind VARCHAR(32) NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(request_id) REFERENCES requests (id)
    )""",
    "CREATE INDEX ix_events_request_id ON events (request_id)",
    """CREATE TABLE targets (
        request_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        app_id VARCHAR(80) NOT NULL,
        number VARCHAR(20),
        started_at FLOAT,
        outcome VARCHAR(16),
        status_code INTEGER,
        message TEXT,
        attempts INTEGER NOT NULL,
        finished_at FLOAT,
        PRIMARY KEY (request_id, idx),
        FOREIGN KEY(request_id) REFERENCES requests (id)
    )""",
]

# Two requests as the old code stored them: one still pending, one executed and announced.
LEGACY_ROWS = [
    """INSERT INTO requests (org, action, requester, reason, status, approvals_needed,
        created_at, expires_at, channel_id, response_url, dedupe_key, executions)
       VALUES ('acme', 'unlink', 'U0ALICE', 'cleanup', 'pending', 2, 100.0, 1000.0,
        'C0OPS', 'https://hooks.example/r1', 'T1:cmd-1', 0)""",
    """INSERT INTO requests (org, action, requester, reason, status, approvals_needed,
        created_at, expires_at, decided_by, finished_at, channel_id, dedupe_key, card_channel,
        card_ts, claim_token, executions, notified_at)
       VALUES ('acme', 'delete', 'U0ALICE', 'retire app', 'succeeded', 1, 200.0, 2000.0,
        'U0BOB', 260.0, 'C0OPS', 'T1:cmd-2', 'C0APPROVALS', '1700000000.000100', 'tok', 1,
        270.0)""",
    """INSERT INTO targets (request_id, idx, app_id, number, attempts)
       VALUES (1, 0, 'app_1', '+918000000001', 0), (1, 1, 'app_1', '+918000000002', 0)""",
    """INSERT INTO targets (request_id, idx, app_id, number, started_at, outcome, status_code,
        message, attempts, finished_at)
       VALUES (2, 0, 'app_2', NULL, 250.0, 'done', 204, 'deleted', 1, 255.0)""",
    """INSERT INTO approvals (request_id, approver, at)
       VALUES (1, 'U0BOB', 110.0), (2, 'U0BOB', 240.0)""",
    """INSERT INTO events (request_id, at, actor, kind, detail) VALUES
        (1, 100.0, 'U0ALICE', 'requested', '{"reason": "cleanup"}'),
        (1, 110.0, 'U0BOB', 'approved', '{}'),
        (2, 200.0, 'U0ALICE', 'requested', '{"reason": "retire app"}'),
        (2, 240.0, 'U0BOB', 'approved', '{}'),
        (2, 250.0, 'sfvopi', 'api_result', '{"outcome": "done", "status_code": 204}'),
        (2, 260.0, 'bot', 'succeeded', '{}')""",
]

EXPECTED = {
    1: Request(
        id=1,
        org="acme",
        action=Action.UNLINK,
        requester="U0ALICE",
        reason="cleanup",
        status=Status.PENDING,
        approvals_needed=2,
        created_at=100.0,
        expires_at=1000.0,
        targets=(
            TargetState(Target("app_1", "+918000000001")),
            TargetState(Target("app_1", "+918000000002")),
        ),
        approvals=(Approval("U0BOB", 110.0),),
        channel_id="C0OPS",
        response_url="https://hooks.example/r1",
    ),
    2: Request(
        id=2,
        org="acme",
        action=Action.DELETE,
        requester="U0ALICE",
        reason="retire app",
        status=Status.SUCCEEDED,
        approvals_needed=1,
        created_at=200.0,
        expires_at=2000.0,
        targets=(TargetState(Target("app_2"), Outcome.DONE, 204, "deleted", 1),),
        approvals=(Approval("U0BOB", 240.0),),
        decided_by="U0BOB",
        finished_at=260.0,
        channel_id="C0OPS",
        card_channel="C0APPROVALS",
        card_ts="1700000000.000100",
        notified_at=270.0,
        executions=1,
    ),
}
EXPECTED_EVENTS = {
    1: [
        Event(1, 100.0, "U0ALICE", "requested", {"reason": "cleanup"}),
        Event(1, 110.0, "U0BOB", "approved", {}),
    ],
    2: [
        Event(2, 200.0, "U0ALICE", "requested", {"reason": "retire app"}),
        Event(2, 240.0, "U0BOB", "approved", {}),
        Event(2, 250.0, "sfvopi", "api_result", {"outcome": "done", "status_code": 204}),
        Event(2, 260.0, "bot", "succeeded", {}),
    ],
}


@asynccontextmanager
async def raw(factory: StoreFactory) -> AsyncIterator[AsyncConnection]:
    """A transaction on the factory's database that bypasses Store (and so its migrations)."""
    options: dict[str, Any] = {}
    if factory.kind == "postgres":
        options = {"connect_args": {"server_settings": {"search_path": factory.schema}}}
    engine = make_engine(factory.url, **options)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


async def make_legacy(factory: StoreFactory, version: int) -> None:
    """A database exactly as the pre-Alembic code left it at `version`, with rows in it."""
    serial = "SERIAL" if factory.kind == "postgres" else "INTEGER"
    announced = V2_ANNOUNCED if version == 2 else ""
    async with raw(factory) as conn:
        await conn.exec_driver_sql(LEGACY_REQUESTS.format(serial=serial, announced=announced))
        for statement in LEGACY_REST:
            await conn.exec_driver_sql(statement.format(serial=serial))
        await conn.execute(
            text("""INSERT INTO schema_meta ("key", value) VALUES ('version', :v)"""),
            {"v": str(version)},
        )
        for statement in LEGACY_ROWS:
            await conn.exec_driver_sql(statement)
        if version == 2:
            await conn.exec_driver_sql("UPDATE requests SET announced = 3 WHERE id = 2")


def describe(conn: Connection) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, comparable across databases."""
    inspector = inspect(conn)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        pk = inspector.get_pk_constraint(table)
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": (pk.get("name"), pk["constrained_columns"]),
            "foreign_keys": sorted(
                (fk.get("name") or "", fk["constrained_columns"], fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"] or "", i["column_names"], i["unique"])
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u.get("name") or "", u["column_names"])
                for u in inspector.get_unique_constraints(table)
            ),
        }
    return tables


def drift(conn: Connection) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match bot/store/schema.py."""
    context = MigrationContext.configure(conn, opts={"compare_type": migrate.compare_type})
    return list(compare_metadata(context, metadata))


async def versions(store: Store) -> tuple[list[str], int]:
    async with store.engine.connect() as conn:
        revisions = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
        meta = await conn.execute(
            select(schema_meta_t.c.value).where(schema_meta_t.c.key == "version")
        )
        return [r[0] for r in revisions], int(meta.scalar_one())


@asynccontextmanager
async def second_database(kind: str, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Another fresh database of the same kind, to compare with the first."""
    (tmp_path / "second").mkdir()
    factory = StoreFactory(kind, tmp_path / "second")
    await factory.prepare()
    try:
        yield factory
    finally:
        await factory.cleanup()


def test_migrate_knows_the_head_revision() -> None:
    """migrate.HEAD lets a restart skip importing Alembic; it must name the real head."""
    assert HEAD == migrate.HEAD
    assert SCHEMA_VERSION == 2


async def test_a_new_database_gets_head(blank_store_factory: StoreFactory) -> None:
    store = await blank_store_factory.open()
    assert await versions(store) == ([HEAD], SCHEMA_VERSION)
    async with store.engine.connect() as conn:
        assert await conn.run_sync(drift) == []
        await conn.exec_driver_sql("SELECT recipient FROM slack_deliveries")


@pytest.mark.parametrize("version", [1, 2])
async def test_a_database_made_before_alembic_is_adopted_and_loses_nothing(
    blank_store_factory: StoreFactory, version: int
) -> None:
    await make_legacy(blank_store_factory, version)

    store = await blank_store_factory.open()

    assert await versions(store) == ([HEAD], SCHEMA_VERSION)
    for request_id, expected in EXPECTED.items():
        assert await store.get(request_id) == expected
        assert await store.events(request_id) == EXPECTED_EVENTS[request_id]
    async with store.engine.connect() as conn:
        assert await conn.run_sync(drift) == []
    # and it keeps working: new ids follow the old ones, the pending request can still finish
    created, fresh = await store.create_request(
        NewRequest(
            org="acme",
            action=Action.DELETE,
            requester="U0CAROL",
            reason="more",
            targets=[Target("app_3")],
            now=300.0,
            expires_at=3000.0,
        ),
        approvals_needed=1,
    )
    assert fresh and created.id == 3
    record = await store.approve(1, approver="U0DAVE", now=310.0, lease_seconds=30)
    assert record.counted and record.claim is not None
    assert await store.deliveries(2, 10.0**10) == []  # its outcome was told: nothing owed


async def test_an_adopted_database_has_exactly_the_schema_of_a_new_one(
    blank_store_factory: StoreFactory, tmp_path: Path
) -> None:
    await make_legacy(blank_store_factory, 2)
    await blank_store_factory.open()
    async with raw(blank_store_factory) as conn:
        adopted = await conn.run_sync(describe)

    async with second_database(blank_store_factory.kind, tmp_path) as second:
        await second.open()
        async with raw(second) as conn:
            assert await conn.run_sync(describe) == adopted  # every revision on an empty one


async def test_a_version_1_database_ends_with_the_same_schema_as_a_version_2_one(
    blank_store_factory: StoreFactory, tmp_path: Path
) -> None:
    await make_legacy(blank_store_factory, 1)
    await blank_store_factory.open()
    async with raw(blank_store_factory) as conn:
        upgraded = await conn.run_sync(describe)

    async with second_database(blank_store_factory.kind, tmp_path) as second:
        await make_legacy(second, 2)
        await second.open()
        async with raw(second) as conn:
            assert await conn.run_sync(describe) == upgraded


async def test_slack_ids_of_any_length_fit(blank_store_factory: StoreFactory) -> None:
    """A 41-character user or channel id overflowed varchar(32) on PostgreSQL."""
    store = await blank_store_factory.open()
    long_user, long_channel = "U" + "A" * 40, "C" + "B" * 40
    created, _ = await store.create_request(
        NewRequest(
            org="acme",
            action=Action.DELETE,
            requester=long_user,
            reason="long ids",
            targets=[Target("app_1")],
            now=1.0,
            expires_at=1000.0,
            channel_id=long_channel,
        ),
        approvals_needed=1,
    )
    record = await store.approve(created.id, approver="W" + "C" * 40, now=2.0, lease_seconds=30)
    assert record.claim is not None
    stored = await store.get(created.id)
    assert stored is not None and stored.requester == long_user
    assert stored.channel_id == long_channel


async def test_starting_again_changes_nothing(blank_store_factory: StoreFactory) -> None:
    first = await blank_store_factory.open()
    created, _ = await first.create_request(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="r",
            targets=[Target("app_1", "+918000000001")],
            now=1.0,
            expires_at=100.0,
        ),
        approvals_needed=2,
    )
    async with first.engine.connect() as conn:
        before = await conn.run_sync(describe)

    again = await blank_store_factory.open()
    await again.start()

    assert await versions(again) == ([HEAD], SCHEMA_VERSION)
    assert await again.get(created.id) == created
    async with again.engine.connect() as conn:
        assert await conn.run_sync(describe) == before


@pytest.mark.parametrize("legacy", [None, 1], ids=["new", "legacy_v1"])
async def test_stores_starting_at_once_on_one_database_all_succeed(
    blank_store_factory: StoreFactory, legacy: int | None
) -> None:
    """Replicas start together: the lock lets one migrate while the others wait, then find head.

    On PostgreSQL that is the advisory lock; on SQLite BEGIN IMMEDIATE (each Store has its own
    engine and write gate, as separate processes would)."""
    if legacy is not None:
        await make_legacy(blank_store_factory, legacy)
    stores = await asyncio.gather(*(blank_store_factory.open() for _ in range(4)))
    for store in stores:
        assert await versions(store) == ([HEAD], SCHEMA_VERSION)
    if legacy is not None:
        assert await stores[-1].get(1) == EXPECTED[1]


STARTER = """
import asyncio, sys
from bot.store import Store

async def main() -> None:
    url, schema = sys.argv[1], sys.argv[2]
    options = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    store = Store(url, engine_options=options)
    assert await store.ping()  # connected before the start line, so the starts overlap
    await asyncio.sleep(float(sys.argv[3]) - asyncio.get_running_loop().time())
    await store.start()
    await store.close()

asyncio.run(main())
"""


async def test_processes_starting_at_once_on_one_database_all_succeed(
    blank_store_factory: StoreFactory,
) -> None:
    """As replicas do: separate processes, released together once each has imported the bot."""
    start_at = asyncio.get_running_loop().time() + 3  # monotonic, shared by processes
    schema = blank_store_factory.schema if blank_store_factory.kind == "postgres" else ""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            STARTER,
            blank_store_factory.url,
            schema,
            str(start_at),
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err.decode() for _, err in results]
    store = await blank_store_factory.open()
    assert await versions(store) == ([HEAD], SCHEMA_VERSION)


async def test_a_database_at_an_unknown_newer_revision_is_refused(
    blank_store_factory: StoreFactory,
) -> None:
    current = await blank_store_factory.open()
    async with current.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(SchemaTooNew, match="revision 0099 is newer"):
        await blank_store_factory.open()
    assert (await versions(current))[0] == ["0099"]  # refused, not touched


async def test_a_newer_database_is_refused(blank_store_factory: StoreFactory) -> None:
    current = await blank_store_factory.open()
    async with current.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE schema_meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(SchemaTooNew, match="version 99 is newer"):
        await blank_store_factory.open()


async def test_a_database_made_before_alembic_by_a_newer_bot_is_refused(
    blank_store_factory: StoreFactory,
) -> None:
    await make_legacy(blank_store_factory, 2)
    async with raw(blank_store_factory) as conn:
        await conn.exec_driver_sql("UPDATE schema_meta SET value = '3' WHERE key = 'version'")
    with pytest.raises(SchemaTooNew, match="version 3 is newer"):
        await blank_store_factory.open()
    async with raw(blank_store_factory) as conn:
        assert "alembic_version" not in await conn.run_sync(lambda c: inspect(c).get_table_names())
