""" "Already pending?" is the database's rule: a target named by a pending request is
reserved once per org, a request not filed `again` that cannot reserve all of its targets is
refused (AlreadyPending naming the holder) with nothing stored, whoever races it (two stores
on one database, as replicas); every way out of pending lets the target go in the same
transaction, to the next pending request naming it if there is one. On SQLite and PostgreSQL."""

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


async def test_a_refusal_stores_nothing_and_names_the_target_held(store: Store) -> None:
    first = await file(store, [OTHER])
    with pytest.raises(AlreadyPending, match=r"\+918000000002 on sfv_app_abc123xyz456"):
        await file(store, [NUMBER, OTHER])
    assert [r.id for r in await store.list_requests(orgs=["acme"])] == [first]
    # the free target of the refused request was not left reserved either
    assert await file(store, [NUMBER]) != first


async def test_targets_differ_by_number_app_and_org(store: Store) -> None:
    await file(store, [NUMBER])
    await file(store, [OTHER])
    await file(store, [APP])  # deleting the app is another target than a number on it
    await file(store, [NUMBER], org="globex")
    assert await refused_by(store, [APP]) > 0


async def test_again_coexists_and_inherits_the_target(store: Store) -> None:
    first = await file(store)
    second = await file(store, again=True)
    assert await refused_by(store) == first
    await store.transition(first, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled")
    assert await refused_by(store) == second
    await store.transition(second, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled")
    assert await file(store) > second


async def test_a_replay_of_the_dedupe_key_returns_the_first(store: Store) -> None:
    first = await file(store, dedupe_key="slack:T0001:trigger-1")
    assert await file(store, dedupe_key="slack:T0001:trigger-1") == first
    assert await refused_by(store) == first


async def deny(store: Store, request_id: int) -> None:
    await store.transition(request_id, to=Status.DENIED, actor="U0BOB", now=NOW, kind="denied")


async def cancel(store: Store, request_id: int) -> None:
    await store.transition(
        request_id, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled"
    )


async def expire(store: Store, request_id: int) -> None:
    await store.transition(request_id, to=Status.EXPIRED, actor="bot", now=NOW, kind="expired")


async def expire_on_click(store: Store, request_id: int) -> None:
    record = await store.approve(request_id, approver="U0BOB", now=NOW + 7200, lease_seconds=30)
    assert record.request.status is Status.EXPIRED


async def execute(store: Store, request_id: int) -> None:
    record = await store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=30)
    assert record.claim is not None
    await store.finish(request_id, record.claim, status=Status.SUCCEEDED, now=NOW)


@pytest.mark.parametrize("leave", [deny, cancel, expire, expire_on_click, execute])
async def test_leaving_pending_lets_the_target_go(
    store_factory: StoreFactory, leave: object
) -> None:
    one, two = await store_factory.open(), await store_factory.open()
    first = await file(one)
    assert await refused_by(two) == first
    await leave(one, first)  # type: ignore[operator]
    assert await file(two) > first


async def test_break_glass_is_refused_by_a_pending_target_and_holds_none(store: Store) -> None:
    async def glass(again: bool) -> int:
        request, claim = await store.create_break_glass(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud",
            targets=[NUMBER],
            incident="INC-4411",
            now=NOW,
            expires_at=NOW + 3600,
            review_due_at=NOW + 3600,
            lease_seconds=30,
            again=again,
        )
        assert claim is not None
        return request.id

    await glass(again=False)
    pending = await file(store)  # the break-glass request never held its target
    with pytest.raises(AlreadyPending):
        await glass(again=False)
    await glass(again=True)
    assert await refused_by(store) == pending


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
