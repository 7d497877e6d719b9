"""Schema upgrades in a child process (bot/store/migrate_child.py): the serving process never
loads Alembic (issue 16), yet a new database still gets head, replicas starting together
still take turns, and a database newer than the bot is refused with the same exception and
message as an upgrade in the process itself."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from bot.errors import SchemaTooNew
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import SCHEMA_VERSION, Store
from bot.store.migrate import HEAD
from tests.support.database import POSTGRES_URL
from tests.support.orgs import ORGS_YAML
from tests.support.processes import BotProcess, bot_env, start_bot_process

# `python -X importtime`: every module a process imports, one stderr line each
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


async def versions(url: str) -> tuple[list[str], int]:
    """(alembic_version rows, schema_meta version), read without starting a Store."""
    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            heads = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
            meta = await conn.exec_driver_sql("SELECT value FROM schema_meta WHERE key='version'")
            return [h[0] for h in heads], int(meta.scalar_one())
    finally:
        await store.close()


async def sql(url: str, statement: str) -> None:
    store = Store(url)
    try:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await store.close()


async def start(url: str) -> None:
    store = Store(url)
    try:
        await store.start(upgrade_in_child_process=True)
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database; on PostgreSQL a whole database, not a schema, since the child
    gets only the URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'child.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SFVOPI_TEST_POSTGRES_URL")
    name = f"t_child_{uuid.uuid4().hex[:12]}"
    admin = Store(POSTGRES_URL, engine_options={"isolation_level": "AUTOCOMMIT"})
    async with admin.engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


# -- the store ------------------------------------------------------------------------------


async def test_a_new_database_gets_head_from_the_child(new_database: str) -> None:
    await start(new_database)
    assert await versions(new_database) == ([HEAD], SCHEMA_VERSION)


STARTER = """
import asyncio, sys
from bot.store import Store

async def main() -> None:
    store = Store(sys.argv[1])
    assert await store.ping()  # connected before the start line, so the starts overlap
    await asyncio.sleep(float(sys.argv[2]) - asyncio.get_running_loop().time())
    await store.start(upgrade_in_child_process=True)
    await store.close()
    assert "alembic" not in sys.modules, "the upgrade ran in this process"

asyncio.run(main())
"""


async def test_processes_starting_at_once_all_succeed_without_importing_alembic(
    new_database: str,
) -> None:
    """As replicas do: the parents check under the lock, the children upgrade under it."""
    start_at = asyncio.get_running_loop().time() + 3  # monotonic, shared by processes
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            STARTER,
            new_database,
            str(start_at),
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err.decode() for _, err in results]
    assert await versions(new_database) == ([HEAD], SCHEMA_VERSION)


async def test_a_newer_schema_version_is_refused_with_the_same_message(
    new_database: str,
) -> None:
    await start(new_database)
    await sql(new_database, "UPDATE schema_meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(SchemaTooNew) as raised:
        await start(new_database)
    assert raised.value.message == (
        f"database schema version 99 is newer than this bot's ({SCHEMA_VERSION}): "
        "upgrade sfvopi-bot"
    )


async def test_an_unknown_newer_revision_is_refused_and_left_alone(new_database: str) -> None:
    await start(new_database)
    await sql(new_database, "UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(SchemaTooNew, match=f"revision 0099 is newer than this bot's \\({HEAD}\\)"):
        await start(new_database)
    assert await versions(new_database) == (["0099"], SCHEMA_VERSION)


async def test_an_in_memory_database_is_upgraded_in_the_process() -> None:
    """A child could not reach it, so the upgrade stays here; the store works."""
    store = Store("sqlite:///:memory:")
    try:
        await store.start(upgrade_in_child_process=True)
        async with store.engine.connect() as conn:
            heads = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
        assert [h[0] for h in heads] == [HEAD]
    finally:
        await store.close()


# -- the real bot -------------------------------------------------------------------------------


async def serve(
    name: str, tmp_path: Path, slack: SlackStandin, emulator: Emulator, url: str
) -> BotProcess:
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        url,
        ORGS_YAML,
        SFVOPI_LOG_LEVEL="INFO",
        PYTHONPROFILEIMPORTTIME="1",
    )
    return await start_bot_process(name, env, tmp_path)


async def test_a_bot_on_a_new_database_serves_without_ever_importing_alembic(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator
) -> None:
    """Its own imports are in its log (-X importtime); the child's go nowhere."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    bot = await serve("bot", tmp_path, slack, emulator, url)
    try:
        await bot.ready()
    finally:
        await bot.stop()
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    imported = set(IMPORTED.findall(log))
    assert {"bot.store.migrate", "sqlalchemy"} <= imported, log[-2000:]
    assert not {m for m in imported if m.split(".")[0] in ("alembic", "mako")}
    assert re.search(rf"Running upgrade \w+ -> {HEAD}, ", log)  # the child's log, in the bot's
    assert await versions(url) == ([HEAD], SCHEMA_VERSION)


async def test_a_bot_on_a_newer_database_stops_with_one_line(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = Store(url)
    await store.start()
    await store.close()
    await sql(url, "UPDATE schema_meta SET value = '99' WHERE key = 'version'")
    bot = await serve("bot", tmp_path, slack, emulator, url)
    assert await bot.died() == 1
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
    assert (
        "sfvopi-bot: SFVOPI_DATABASE_URL: database schema version 99 is newer than this bot's "
        f"({SCHEMA_VERSION}): upgrade sfvopi-bot"
    ) in log
