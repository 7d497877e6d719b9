"""The schema is created on a new database and upgraded in place on an older one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import SchemaTooNew
from bot.store import SCHEMA_VERSION, schema_meta_t
from tests.support.database import StoreFactory


async def version_of(factory: StoreFactory) -> int:
    store = factory.stores[-1]
    async with store.engine.connect() as conn:
        found = await conn.execute(
            select(schema_meta_t.c.value).where(schema_meta_t.c.key == "version")
        )
        return int(found.scalar_one())


async def test_a_version_1_database_is_upgraded_at_start(store_factory: StoreFactory) -> None:
    old = await store_factory.open()
    async with old.engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE requests DROP COLUMN announced")
        await conn.exec_driver_sql("UPDATE schema_meta SET value = '1' WHERE key = 'version'")
    await old.close()

    upgraded = await store_factory.open()
    assert await version_of(store_factory) == SCHEMA_VERSION == 2
    async with upgraded.engine.connect() as conn:
        await conn.exec_driver_sql("SELECT announced FROM requests")
    again = await store_factory.open()
    assert await version_of(store_factory) == 2
    await again.close()


async def test_a_newer_database_is_refused(store_factory: StoreFactory) -> None:
    current = await store_factory.open()
    async with current.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE schema_meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(SchemaTooNew, match="version 99 is newer"):
        await store_factory.open()
