""" "Already pending?" is the database's rule: a target named by a pending request is
reserved once per org, a request not filed `again` that cannot reserve all of its targets is
refused (AlreadyPending naming the holder) with nothing stored, whoever races it (two stores
on one database, as replicas); every way out of pending lets the target go in the same
transaction, to the next pending request naming it if there is one. On SQLite and PostgreSQL.

Here: what only a database shows (two stores racing, the upgrade); the rule itself, on every
store, is in test_request_store_contract.py."""

from __future__ import annotations

import asyncio

from alembic import command

from bot.core.models import Status
from bot.errors import AlreadyPending
from bot.store import Store
from bot.store.migrate import alembic_config
from tests.support.database import StoreFactory
from tests.support.filing import APP, NOW, OTHER, file, refused_by


async def test_stores_racing_for_one_target_file_one_request(store_factory: StoreFactory) -> None:
    one, two = await store_factory.open(), await store_factory.open()
    results = await asyncio.gather(*(file(s) for s in (one, two) * 10), return_exceptions=True)
    filed = [r for r in results if isinstance(r, int)]
    assert len(filed) == 1, results
    refusals = [r for r in results if isinstance(r, AlreadyPending)]
    assert len(refusals) == 19, results
    assert {r.request_id for r in refusals} == set(filed)
    assert all(f"as request #{filed[0]}" in r.message for r in refusals)
    assert [r.id for r in await two.list_requests(orgs=["acme"])] == filed


async def cancel(store: Store, request_id: int) -> None:
    await store.transition(
        request_id, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled"
    )


async def test_the_upgrade_reserves_what_is_pending_oldest_first(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    oldest = await file(store)
    twin = await file(store, again=True)
    other = await file(store, [OTHER])
    gone = await file(store, [APP])
    await cancel(store, gone)
    async with store.engine.begin() as conn:  # back to before 0012: nothing reserved
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0011"))
    upgraded = await store_factory.open()
    assert await refused_by(upgraded) == oldest
    assert await refused_by(upgraded, [OTHER]) == other
    await file(upgraded, [APP])
    await cancel(upgraded, oldest)
    assert await refused_by(upgraded) == twin
