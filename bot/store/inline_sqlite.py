"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

aiosqlite runs every call (execute, fetch, close, commit) on a worker thread and hands the
result back through the loop: about 0.1 ms a hop on this 2-core machine, three or more hops a
statement, where SQLite itself answers in about 10 µs (benchmarks/README.md, issue 16). Here
the same calls run in place, so the statement costs what SQLite costs.

Nothing waits long in place: the store lets one writer at a time into SQLite per process
(engine.WriteGate) and WAL readers never wait for writers, so a call blocks the loop only
while another *process* holds the write lock (up to the busy timeout; a slash command's write
instead tries again off the loop until its deadline, bot/store/database.py). This module is the
subset of aiosqlite's interface that SQLAlchemy's aiosqlite dialect uses, given to it as
`async_creator` (engine.make_engine); nothing else uses it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["connect"]


async def connect(database: str, **options: Any) -> Connection:
    """An open connection to `database` (a path or a `file:` URI with uri=True)."""
    return Connection(sqlite3.connect(database, **options))


class Cursor:
    """An aiosqlite-shaped cursor whose coroutines finish without ever suspending."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _InPlace:
    """Stands in for aiosqlite's request queue, which the dialect uses to set the isolation
    level: the call runs at once."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class Connection:
    """An aiosqlite-shaped connection over one `sqlite3.Connection`, used in place."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._tx = _InPlace(connection)

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """What the dialect checks to tell an open connection from a closed one."""
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    def cursor(self) -> Cursor:
        return Cursor(self._open().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._open().commit()

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        """Terminates at once (the dialect's forced close)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._open().isolation_level = value
