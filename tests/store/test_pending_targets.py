""" "Already pending?" is the database's rule: a target named by a pending request is
reserved once per org, a request not filed `again` that cannot reserve all of its targets is
refused (AlreadyPending naming the holder) with nothing stored, whoever races it (two stores
on one database, as replicas); every way out of pending lets the target go in the same
transaction, to the next pending request naming it if there is one. On SQLite and PostgreSQL.

Here: what only a database shows (two stores racing, the upgrade); the rule itself, on every
store, is in test_request_store_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from alembic import command

from bot.core.models import Action, Status, Target
from bot.errors import AlreadyPending
from bot.store import Store
from bot.store.migrate import alembic_config
from tests.support.database import StoreFactory

NOW = 1_700_000_000.0
NUMBER = Target("sfv_app_abc123xyz456", "+918000000001")
OTHER = Target("sfv_app_abc123xyz456", "+918000000002")
APP = Target("sfv_app_abc123xyz456")


async def file(
    store: Store,
    targets: Sequence[Target] = (NUMBER,),
    *,
    again: bool = False,
    dedupe_key: str | None = None,
    org: str = "acme",
) -> int:
    request, _ = await store.create_request(
        org=org,
        action=Action.DELETE if targets[0].number is None else Action.UNLINK,
        requester="U0ALICE",
        reason="fraud",
        targets=list(targets),
        approvals_needed=1,
        now=NOW,
        expires_at=NOW + 3600,
        dedupe_key=dedupe_key,
        again=again,
    )
    return request.id


async def refused_by(store: Store, targets: Sequence[Target] = (NUMBER,)) -> int:
    with pytest.raises(AlreadyPending) as refused:
        await file(store, targets)
    return refused.value.request_id


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
