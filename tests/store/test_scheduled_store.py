"""What every RequestStore promises scheduled execution, on SQLite, PostgreSQL and the memory
store: a quorum outside the window holds the request (scheduled, its targets freed, its event
and the requester's notice owed, no claim); two sweeps claiming it at once, one wins; a held
request moved only from where it was; expired from scheduled. And migration 0017 down (a
held request expired, never left in a state the older bot does not know) and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from bot.core.models import Status
from bot.core.ports import RequestStore
from bot.core.scheduling import Wait
from bot.store.migrate import alembic_config
from tests.support.database import StoreFactory
from tests.support.filing import NOW, NUMBER, file

WAIT = Wait(NOW + 600, NOW + 1200, "window every day 10:00-11:00 UTC")


async def held(store: RequestStore) -> int:
    request_id = await file(store, [NUMBER])
    record = await store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=30, wait=WAIT)
    assert record.counted and record.claim is None
    return request_id


async def test_a_quorum_outside_the_window_holds_it(request_store: RequestStore) -> None:
    request_id = await held(request_store)
    request = await request_store.get(request_id)
    assert request is not None and request.status is Status.SCHEDULED
    assert (request.run_at, request.run_until, request.decided_by) == (
        NOW + 600,
        NOW + 1200,
        "U0BOB",
    )
    assert request.decision_note == WAIT.text(NOW)
    (event,) = [e for e in await request_store.events(request_id) if e.kind == "scheduled"]
    assert event.detail["run_at"] == NOW + 600
    # its target is free again, as a claimed request's is
    assert await request_store.pending_with_targets("acme", [NUMBER]) == {}
    assert await request_store.scheduled(due_by=NOW + 599) == []
    assert await request_store.scheduled(due_by=NOW + 600) == [request_id]
    assert await request_store.scheduled() == [request_id]


async def test_a_wait_already_over_claims_as_ever(request_store: RequestStore) -> None:
    request_id = await file(request_store, [NUMBER])
    past = Wait(NOW, NOW + 60, "window")
    record = await request_store.approve(
        request_id, approver="U0BOB", now=NOW, lease_seconds=30, wait=past
    )
    assert record.claim is not None and record.request.status is Status.EXECUTING


async def test_two_sweeps_claim_it_once(request_store: RequestStore) -> None:
    request_id = await held(request_store)
    claims = await asyncio.gather(
        *(
            request_store.claim_scheduled(request_id, now=NOW + 600, lease_seconds=30)
            for _ in range(4)
        )
    )
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0][1].status is Status.EXECUTING
    assert won[0][1].executions == 1
    assert await request_store.scheduled() == []
    assert await request_store.claim_scheduled(request_id, now=NOW + 601, lease_seconds=30) is None


async def test_moved_only_from_where_it_was_and_expired_from_scheduled(
    request_store: RequestStore,
) -> None:
    request_id = await held(request_store)
    later = Wait(NOW + 7200, NOW + 9000, "after the freeze")
    assert await request_store.reschedule(request_id, was=NOW + 1, wait=later, now=NOW) is None
    moved = await request_store.reschedule(request_id, was=NOW + 600, wait=later, now=NOW)
    assert moved is not None and moved.run_at == NOW + 7200
    # a pending-only transition does not touch it; one from scheduled does
    assert (
        await request_store.transition(
            request_id, to=Status.EXPIRED, actor="bot", now=NOW, kind="expired"
        )
        is None
    )
    expired = await request_store.transition(
        request_id,
        to=Status.EXPIRED,
        actor="bot",
        now=NOW + 9000,
        kind="expired",
        detail={"reason": "not run before its window closed"},
        source=Status.SCHEDULED,
    )
    assert expired is not None and expired.status is Status.EXPIRED
    assert expired.decision_note == "not run before its window closed"


async def test_the_migration_goes_down_and_up_again(store_factory: StoreFactory) -> None:
    """0017 down with a request held (expired, its columns dropped), then up again."""
    store = await store_factory.open()
    request_id = await held(store)
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0016"))
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("requests")}
        )
    assert not {"run_after", "run_at", "run_until"} & columns
    upgraded = await store_factory.open()  # back at head
    kept = await upgraded.get(request_id)
    assert kept is not None and kept.status is Status.EXPIRED and kept.run_at is None
    assert "downgraded" in (kept.decision_note or "")
    assert await held(upgraded) != request_id
