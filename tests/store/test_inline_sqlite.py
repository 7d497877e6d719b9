"""SQLite runs in place on the event loop's thread (bot/store/inline_sqlite.py, issue 16): no
driver threads, yet another process's write lock is still waited for (busy timeout), a lock
held too long fails the write cleanly, memory databases still open, and a failed write rolls
back. Over real SQLite files and a real second process holding the lock."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.core.models import Action, NewRequest, Status, Target
from bot.store import Store
from bot.store.schema import requests_t

NOW = 1_700_000_000.0
LOCK_WAIT = 30.0  # how long anything here may take on a busy machine before it is a failure

# Another process's writer: takes SQLite's write lock, says so, holds it, then commits. With
# a hold time it lets go after that many seconds; with none, when a line arrives on stdin.
HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
db.execute("CREATE TABLE IF NOT EXISTS other_writer (at REAL)")
db.execute("INSERT INTO other_writer VALUES (?)", (time.time(),))
print("held", flush=True)
if len(sys.argv) > 2:
    time.sleep(float(sys.argv[2]))
else:
    sys.stdin.readline()
db.execute("COMMIT")
print("committed", flush=True)
"""


async def file_request(store: Store, number: str = "+918000000001") -> int:
    request, created = await store.create_request(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud",
            targets=[Target("sfv_app_abc123xyz456", number)],
            now=NOW,
            expires_at=NOW + 3600,
        ),
        approvals_needed=1,
    )
    assert created
    return request.id


def statement_thread(store: Store) -> None:
    """Gives the store's connections `statement_thread()`: the thread SQLite runs it on."""

    @event.listens_for(store.engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("statement_thread", 0, threading.get_ident)


async def thread_sqlite_ran_on(store: Store) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(text("SELECT statement_thread()"))).scalar_one())


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'sfvopi.db'}")
    yield store
    await store.close()


class Holder:
    """A second process holding SQLite's write lock on a database file."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def take(cls, path: Path, hold_seconds: float | None = None) -> Holder:
        """Returns once the other process holds the lock (it said so), not before."""
        args = [str(path)] if hold_seconds is None else [str(path), str(hold_seconds)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLDER,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        holder = cls(process)
        assert await holder.said() == "held"
        return holder

    async def said(self) -> str:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), LOCK_WAIT)
        return line.decode().strip()

    async def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    async def finished(self) -> None:
        assert await self.said() == "committed"
        assert await asyncio.wait_for(self.process.wait(), LOCK_WAIT) == 0

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def threads_since(before: set[threading.Thread]) -> set[str]:
    """Threads started since `before`, but for those the shared event loop may start for
    other tests' leftovers (its executor's, its child watcher's)."""
    return {
        t.name
        for t in set(threading.enumerate()) - before
        if not t.name.startswith(("asyncio_", "waitpid-"))
    }


def files_in(path: Path) -> list[Path]:
    return list(path.iterdir())


def other_writer_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM other_writer").fetchone()[0])


async def test_the_store_runs_sqlite_on_the_loops_thread_and_starts_no_threads(
    sqlite_store: Store,
) -> None:
    statement_thread(sqlite_store)
    before = set(threading.enumerate())
    await sqlite_store.start()
    request_ids = [await file_request(sqlite_store, f"+91800000000{i}") for i in range(3)]
    for request_id in request_ids:
        got = await sqlite_store.get(request_id)
        assert got is not None and got.status is Status.PENDING
        assert await sqlite_store.claim_card(request_id, NOW, 30)
        assert not await sqlite_store.claim_card(request_id, NOW, 30)  # held: one poster
    await asyncio.gather(*(sqlite_store.get(i) for i in request_ids))

    assert threads_since(before) == set()
    assert await thread_sqlite_ran_on(sqlite_store) == threading.get_ident()


async def test_a_write_waits_for_another_process_holding_the_lock(
    sqlite_store: Store, tmp_path: Path
) -> None:
    await sqlite_store.start()
    holder = await Holder.take(tmp_path / "sfvopi.db", hold_seconds=1.0)
    try:
        request_id = await file_request(sqlite_store)  # while the other process holds the lock
        await holder.finished()
    finally:
        holder.kill()
    got = await sqlite_store.get(request_id)
    assert got is not None and got.status is Status.PENDING
    assert other_writer_rows(tmp_path / "sfvopi.db") == 1  # its write landed too, first


def short_busy_timeout(store: Store) -> None:
    """The store's connections wait 0.2 s for a lock, not the engine's 10 s: set after the
    engine's own set-up (a connection's listeners run in the order they were added)."""

    @event.listens_for(store.engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=200")
        cursor.close()


def locked(error: BaseException) -> bool:
    """SQLite's "database is locked", raised as is or wrapped by SQLAlchemy."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, sqlite3.OperationalError) and "database is locked" in str(current):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


async def test_a_lock_held_past_the_busy_timeout_fails_the_write_and_leaves_nothing(
    sqlite_store: Store, tmp_path: Path
) -> None:
    short_busy_timeout(sqlite_store)
    await sqlite_store.start()
    holder = await Holder.take(tmp_path / "sfvopi.db")
    try:
        with pytest.raises(Exception) as filing:  # its kind: the next test
            await file_request(sqlite_store)
        assert locked(filing.value), repr(filing.value)
        with pytest.raises(Exception) as claiming:
            await sqlite_store.claim_card(1, NOW, 30)
        assert locked(claiming.value), repr(claiming.value)
        await holder.release()
        await holder.finished()
    finally:
        holder.kill()
    assert await sqlite_store.list_requests(orgs=["acme"]) == []
    # the same store's connections came back clean: the next write goes through
    request_id = await file_request(sqlite_store)
    assert await sqlite_store.claim_card(request_id, NOW, 30)
    got = await sqlite_store.get(request_id)
    assert got is not None and got.status is Status.PENDING


async def test_a_locked_database_fails_as_sqlalchemy_reports_any_database_error(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Callers tell a database failure by SQLAlchemyError (bot/cli.py's _open_services and
    bot/audit/commands.py's _open report it in one line); a lock is one too."""
    short_busy_timeout(sqlite_store)
    await sqlite_store.start()
    holder = await Holder.take(tmp_path / "sfvopi.db")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            await file_request(sqlite_store)
        await holder.release()
        await holder.finished()
    finally:
        holder.kill()


@pytest.mark.parametrize("kind", ["memory", "shared-cache uri"])
async def test_memory_databases_open_through_the_inline_driver(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a URI taken for a file name would show up here
    name = f"sfvopi_{uuid.uuid4().hex[:12]}"
    url = (
        "sqlite:///:memory:"
        if kind == "memory"
        else f"sqlite:///file:{name}?mode=memory&cache=shared&uri=true"
    )
    store = Store(url)
    statement_thread(store)
    before = set(threading.enumerate())
    try:
        await store.start()
        request_id = await file_request(store)
        got = await store.get(request_id)
        assert got is not None and got.status is Status.PENDING
        assert threads_since(before) == set()
        assert await thread_sqlite_ran_on(store) == threading.get_ident()
        if kind != "memory":  # another connection to the same name sees the same database
            with sqlite3.connect(f"file:{name}?mode=memory&cache=shared", uri=True) as db:
                assert db.execute("SELECT id FROM requests").fetchall() == [(request_id,)]
    finally:
        await store.close()
    assert files_in(tmp_path) == []


async def test_a_failed_write_rolls_back_everything_it_did(
    sqlite_store: Store, tmp_path: Path
) -> None:
    await sqlite_store.start()
    row = {
        "org": "acme",
        "action": Action.UNLINK.value,
        "requester": "U0ALICE",
        "reason": "fraud",
        "status": Status.PENDING.value,
        "approvals_needed": 1,
        "created_at": NOW,
        "expires_at": NOW + 3600,
        "executions": 0,
        "dedupe_key": "same-key",
    }
    with pytest.raises(IntegrityError):
        async with sqlite_store._write() as conn:
            await conn.execute(requests_t.insert(), row)
            assert (await conn.execute(select(requests_t.c.id))).all() != []
            await conn.execute(requests_t.insert(), row)  # the same dedupe key again
    async with sqlite_store._read() as conn:
        assert (await conn.execute(select(requests_t.c.id))).all() == []
    with sqlite3.connect(tmp_path / "sfvopi.db") as db:  # nor does another connection see it
        assert db.execute("SELECT count(*) FROM requests").fetchone() == (0,)
    request_id = await file_request(sqlite_store)
    assert await sqlite_store.get(request_id) is not None
