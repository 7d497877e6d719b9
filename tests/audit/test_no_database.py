"""`sfvopi-bot audit` pointed at no bot database refuses in one line and creates nothing: a
mistyped SFVOPI_DATABASE_URL must not pass for an empty, intact log."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.audit import run_cli

COMMANDS = [["audit", "verify"], ["audit", "export"]]
IDS = ["verify", "export"]


def refused(code: int, err: str) -> str:
    """The one line of a refusal, checked to be one line and no traceback."""
    assert code != 0
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
async def test_a_missing_sqlite_file_is_refused_and_not_created(
    args: list[str], tmp_path: Path
) -> None:
    missing = tmp_path / "typo.db"

    result = await run_cli(args, {"SFVOPI_DATABASE_URL": f"sqlite:///{missing}"}, tmp_path)

    line = refused(result.code, result.err)
    assert line.startswith("sfvopi-bot audit: SFVOPI_DATABASE_URL: there is no SQLite database")
    assert str(missing) in line
    assert result.out == ""
    assert not missing.exists()


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
async def test_a_sqlite_file_without_the_bots_tables_is_refused_and_left_alone(
    args: list[str], tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()

    result = await run_cli(args, {"SFVOPI_DATABASE_URL": f"sqlite:///{other}"}, tmp_path)

    line = refused(result.code, result.err)
    assert line == (
        f"sfvopi-bot audit: SFVOPI_DATABASE_URL: the SQLite file {other} has no sfvopi-bot "
        "tables (check the URL: is it the bot's database?)"
    )
    with closing(sqlite3.connect(other)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["notes"]


@pytest.fixture
async def empty_postgres(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (no tables), dropped after."""
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(postgres_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"sfvopi_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
async def test_a_postgres_database_without_the_bots_tables_is_refused_and_left_empty(
    args: list[str], empty_postgres: str, tmp_path: Path
) -> None:
    import asyncpg

    result = await run_cli(args, {"SFVOPI_DATABASE_URL": empty_postgres}, tmp_path)

    line = refused(result.code, result.err)
    assert line.startswith("sfvopi-bot audit: SFVOPI_DATABASE_URL: the PostgreSQL database at ")
    assert line.endswith("has no sfvopi-bot tables (check the URL: is it the bot's database?)")
    conn = await asyncpg.connect(
        make_url(empty_postgres).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    assert tables == []


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
async def test_a_missing_postgres_database_is_refused(
    args: list[str], postgres_url: str, tmp_path: Path
) -> None:
    name = f"sfvopi_none_{uuid.uuid4().hex[:10]}"
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    result = await run_cli(args, {"SFVOPI_DATABASE_URL": url}, tmp_path)

    line = refused(result.code, result.err)
    assert line.startswith("sfvopi-bot audit: SFVOPI_DATABASE_URL: PostgreSQL at ")
    assert f"has no database '{name}'" in line
