"""What a database problem means to an operator: one line each, never the password.

`database_problem` is what `check-config` (and `serve` and `socket`, before they open anything)
asks of SFVOPI_DATABASE_URL; `bot_database_problem` is what `audit` asks (an existing bot
database, never a new one); `describe_database_error` is how the bot and `audit` say why a
database did not answer. SQLAlchemy and the drivers are imported where they are used.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import causes
from bot.store.engine import async_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection

__all__ = [
    "DATABASE_TIMEOUT",
    "bot_database_problem",
    "database_problem",
    "database_summary",
    "describe_database_error",
]

DATABASE_TIMEOUT = 10.0


async def database_problem(url: str, *, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """Why start-up could not open the database at `url`, in one line, or None.

    A SQLite file that does not exist yet is judged by its directory (start-up creates it);
    nothing is created here. Otherwise the store is opened, asked `SELECT 1` (what
    `Store.ping` asks, keeping the reason), and closed.
    """
    parsed = _parse(url)
    if parsed is None:
        return "SFVOPI_DATABASE_URL is not a database URL SQLAlchemy can read"
    if parsed.get_backend_name() == "sqlite":
        problem, exists = _sqlite_file_problem(parsed.database)
        if problem is not None or not exists:
            return problem
    return await _connect_problem(url, parsed, timeout)


async def bot_database_problem(url: str, *, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """Why `url` is not an existing bot database, in one line, or None; nothing is created.

    A reader of the log (`audit`) must not take a mistyped URL for an empty, intact log: the
    SQLite file must exist and the database must hold the bot's tables."""
    parsed = _parse(url)
    if parsed is None:
        return "SFVOPI_DATABASE_URL is not a database URL SQLAlchemy can read"
    if parsed.get_backend_name() == "sqlite":
        problem, exists = _sqlite_file_problem(parsed.database)
        if problem is not None:
            return problem
        if not exists:
            where = parsed.database or ":memory:"
            return (
                f"SFVOPI_DATABASE_URL: there is no SQLite database at {where} "
                "(check the URL: the bot's database is read, never created here)"
            )
    return await _connect_problem(url, parsed, timeout, bot_tables=True)


def _parse(url: str) -> URL | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(async_url(url))
    except (ArgumentError, ValueError):
        return None


def _sqlite_file_problem(database: str | None) -> tuple[str | None, bool]:
    """(problem, file exists) for a SQLite database path; in-memory ones have no file."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None, False
    path = Path(database)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"SFVOPI_DATABASE_URL: {path} is a directory, not a SQLite file", False
    if not directory.is_dir():
        return (
            f"SFVOPI_DATABASE_URL: the SQLite directory {directory} does not exist "
            "(create it, or point the URL elsewhere)"
        ), False
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"SFVOPI_DATABASE_URL: the SQLite directory {directory} is not writable by this "
            "user (the database and its journal live there)"
        ), path.exists()
    if not path.exists():
        return None, False
    if not os.access(path, os.R_OK | os.W_OK):
        return f"SFVOPI_DATABASE_URL: the SQLite file {path} is not writable by this user", True
    return None, True


async def _connect_problem(
    url: str, parsed: URL, timeout: float, *, bot_tables: bool = False
) -> str | None:
    """`SELECT 1` on the database (and, with `bot_tables`, that it holds the bot's tables)."""
    from bot.store import Store  # here: the facade's package imports every store module

    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        options["connect_args"] = {"timeout": timeout}
    try:
        store = Store(url, engine_options=options)
    except Exception as exc:
        return describe_database_error(exc, url)
    try:
        async with asyncio.timeout(timeout + 1):
            async with store.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
                found = await conn.run_sync(_has_bot_tables) if bot_tables else True
    except Exception as exc:
        return describe_database_error(exc, url)
    finally:
        await store.close()
    if not found:
        return (
            f"SFVOPI_DATABASE_URL: {_named(parsed)} has no sfvopi-bot tables "
            "(check the URL: is it the bot's database?)"
        )
    return None


def _has_bot_tables(conn: Connection) -> bool:
    from sqlalchemy import inspect

    from bot.store.schema import events_t, requests_t

    inspector = inspect(conn)
    return all(inspector.has_table(table.name) for table in (requests_t, events_t))


def _named(parsed: URL) -> str:
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"the PostgreSQL database at {_where(parsed)}"


def describe_database_error(exc: BaseException, url: str) -> str:
    """One line saying why the database at `url` did not answer; never its password."""
    parsed = _parse(url)
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        reason = _sqlite_reason(exc)
        return f"SFVOPI_DATABASE_URL: cannot open the SQLite database {parsed.database}: {reason}"
    return _scrub(f"SFVOPI_DATABASE_URL: {_postgres_reason(exc, parsed)}", parsed)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _sqlite_reason(exc: BaseException) -> str:
    import sqlite3

    for link in causes(exc):
        if isinstance(link, sqlite3.Error):
            return _first_line(link)
        if isinstance(link, TimeoutError):
            return "timed out (is the file locked by another program?)"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
    return _first_line(exc)


def _postgres_reason(exc: BaseException, parsed: URL | None) -> str:
    import asyncpg.exceptions as pg  # type: ignore[import-untyped]

    host = (parsed.host if parsed is not None else None) or "localhost"
    server = f"PostgreSQL at {host}:{(parsed.port if parsed is not None else None) or 5432}"
    user = parsed.username if parsed is not None and parsed.username else "(default)"
    name = parsed.database if parsed is not None and parsed.database else "(default)"
    chain = causes(exc)
    for link in chain:
        if isinstance(link, pg.InvalidPasswordError):
            return f"{server} refused user {user!r}: authentication failed (check the password)"
        if isinstance(link, pg.InvalidCatalogNameError):
            return f"{server} has no database {name!r} (create it, or fix the URL)"
        if isinstance(link, pg.InvalidAuthorizationSpecificationError):
            return f"{server} refused the login: {_first_line(link)}"
        if isinstance(link, pg.PostgresError):
            return f"{server} refused: {_first_line(link)}"
        if isinstance(link, socket.gaierror):
            return f"cannot resolve the database host name {host!r}"
        if isinstance(link, ConnectionRefusedError):
            return f"cannot reach {server}: connection refused (is it running, is the port right?)"
        if isinstance(link, TimeoutError):
            return f"cannot reach {server}: no answer in time (host, port, firewall?)"
        if isinstance(link, OSError):
            return f"cannot reach {server}: {link.strerror or _first_line(link)}"
    return f"cannot open the database at {server}: {_first_line(chain[-1])}"


def _where(parsed: URL | None) -> str:
    if parsed is None:
        return "unreadable URL"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f"{host}:{port}, database {parsed.database or '(default)'}"


def _scrub(text: str, parsed: URL | None) -> str:
    """The line without the password, whatever a driver put in its message."""
    line = " ".join(text.split())
    password = parsed.password if parsed is not None else None
    if password:
        line = line.replace(str(password), "***")
    return line


def database_summary(url: str) -> str:
    parsed = _parse(url)
    if parsed is None:  # pragma: no cover - checked already
        return "database: OK"
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return "database: SQLite in memory (nothing kept after a restart)"
        if Path(database).exists():
            return f"database: SQLite {database}, OK"
        return f"database: SQLite {database} (created at first start)"
    return f"database: PostgreSQL at {_where(parsed)}, OK"
