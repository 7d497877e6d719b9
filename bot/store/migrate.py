"""Schema upgrades with Alembic, run at start-up inside the caller's locked write transaction.

The lock (PostgreSQL: an advisory transaction lock; SQLite: BEGIN IMMEDIATE, taken by the
caller) makes replicas that start together take turns: the first upgrades, the rest find head.
Databases made before Alembic carry only `schema_meta`; they are stamped at the matching
revision first. `schema_meta` is still kept at SCHEMA_VERSION so pre-Alembic binaries go on
refusing a database newer than they are.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import SchemaTooNew
from bot.store.schema import schema_meta_t

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "LEGACY_REVISIONS",
    "MIGRATIONS",
    "SCHEMA_LOCK_ID",
    "SCHEMA_VERSION",
    "at_head",
    "compare_type",
    "upgrade",
]

SCHEMA_LOCK_ID = 0x5F0_0B07
# schema_meta's version at head: a revision that changes the schema bumps both (old binaries
# read it to refuse a newer database); and where a pre-Alembic database of each version is
SCHEMA_VERSION = 2
HEAD = "0017"  # the newest revision in migrations/versions (a test checks they agree)
LEGACY_REVISIONS = {1: "0001", 2: "0002"}
MIGRATIONS = Path(__file__).with_name("migrations")

# Alembic keeps its running migration in module globals (alembic.context, alembic.op), so two
# upgrades in one process must not interleave, even on different databases: one per loop.
_in_process: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def compare_type(
    context: Any,
    inspected: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic's type comparison, except that on SQLite a VARCHAR's length is no difference:
    SQLite never enforces it, so migrations do not rebuild tables to change it."""
    if (
        context.dialect.name == "sqlite"
        and isinstance(inspected_type, String)
        and isinstance(metadata_type, String)
    ):
        return False
    return None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration built in code: no alembic.ini needs to ship or be found."""
    from alembic.config import Config  # imported here: only start-up needs Alembic

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(conn: AsyncConnection) -> None:
    """Brings the schema to head in `conn`'s transaction, which must be a write transaction."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_ID)))
    # taken after the database's lock: whoever holds it never waits for another database
    lock = _in_process.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        await conn.run_sync(_upgrade)


async def at_head(conn: AsyncConnection) -> bool:
    """Whether `conn`'s write transaction finds nothing to upgrade, taking `upgrade`'s lock
    first: a replica that starts while another upgrades waits for it, then finds head."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_ID)))
    return await conn.run_sync(_at_head)


def _upgrade(connection: Connection) -> None:
    """Alembic is synchronous: this runs on the sync face of the async connection (run_sync)."""
    if _at_head(connection):
        return  # the usual restart: Alembic is not even imported (it costs ~9 MB of RSS)
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    legacy = _legacy_version(connection)
    if legacy is not None and legacy > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {legacy} is newer than this bot's "
            f"({SCHEMA_VERSION}): upgrade sfvopi-bot"
        )
    current = MigrationContext.configure(connection).get_current_heads()
    known = {s.revision for s in script.walk_revisions()}
    unknown = sorted(set(current) - known)
    if unknown:
        raise SchemaTooNew(
            f"database schema revision {', '.join(unknown)} is newer than this bot's "
            f"({head}): upgrade sfvopi-bot"
        )
    if not current and legacy is not None:
        command.stamp(config, LEGACY_REVISIONS[legacy])
    command.upgrade(config, "head")


def _at_head(connection: Connection) -> bool:
    """Whether nothing is left to do or check: at HEAD, and schema_meta no newer than ours."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    legacy = _legacy_version(connection)
    return list(revisions) == [HEAD] and legacy is not None and legacy <= SCHEMA_VERSION


def _legacy_version(connection: Connection) -> int | None:
    """The pre-Alembic version in `schema_meta`, or None on a database without one."""
    if not inspect(connection).has_table(schema_meta_t.name):
        return None
    value = connection.execute(
        select(schema_meta_t.c.value).where(schema_meta_t.c.key == "version")
    ).scalar()
    return None if value is None else int(value)
