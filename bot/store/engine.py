"""Connecting: the async driver for a URL, SQLite's locking set-up, and its single-writer gate."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.store import inline_sqlite

__all__ = ["ASYNC_DRIVERS", "BUSY_TIMEOUT_MS", "WriteGate", "async_url", "make_engine"]

# how long a SQLite statement waits for another process's lock, blocking: background work's
# bound. A write with a deadline (a command's) polls instead, off the loop (database.py).
BUSY_TIMEOUT_MS = 10_000

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


def make_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for `url` (any accepted spelling); SQLite gets WAL and BEGIN IMMEDIATE,
    run in place on the loop's thread (bot/store/inline_sqlite.py), and no pre-ping (a file
    does not drop a connection the way a server does)."""
    url = async_url(url)
    sqlite = url.startswith("sqlite+aiosqlite:")
    if sqlite and "async_creator" not in options:
        args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
        kwargs["check_same_thread"] = False

        async def creator() -> Any:
            return await inline_sqlite.connect(*args, **kwargs)

        options["async_creator"] = creator
    engine = create_async_engine(url, pool_pre_ping=not sqlite, **options)
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine


class WriteGate:
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
        # the timeout first: switching a new file to WAL takes a lock another process may hold
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # `sqlite_nowait`: fail at once if another process holds the lock (the caller polls)
        nowait = options.get("sqlite_nowait", False)
        # on the driver's cursor: a statement with no result needs none of SQLAlchemy's
        # execution machinery, which costs more than the BEGIN (issue 16)
        statement = "BEGIN IMMEDIATE" if options.get("sqlite_immediate", False) else "BEGIN"
        cursor = conn.connection.cursor()
        try:
            if nowait:
                cursor.execute("PRAGMA busy_timeout=0")
            cursor.execute(statement)
        except sqlite3.Error as error:  # as SQLAlchemy reports any other statement's failure
            raise DBAPIError.instance(statement, (), error, sqlite3.Error) from error
        finally:
            if nowait:
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
