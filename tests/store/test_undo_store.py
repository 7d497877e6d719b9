"""What every RequestStore promises undo, on SQLite, PostgreSQL and the memory store: one undo
alive per request (a replay of its key aside), the facts a finished request's card reads, a
recreate's attempt and new app kept first-come under the claim, and `undone` on the request
taken back when its undo succeeds, in the chained log."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import inspect

from bot.core.models import Action, NewRequest, Outcome, Status
from bot.core.ports import RequestStore
from bot.core.preview import Preview, Purpose
from bot.errors import Conflict, LostClaim
from bot.store.migrate import alembic_config
from tests.support.database import StoreFactory
from tests.support.filing import APP, NOW, NUMBER, file


async def finished(store: RequestStore, *, pre_image: bool = True) -> int:
    """An unlink of NUMBER run to success (its pre-image recorded first, if asked)."""
    request_id = await file(store, [NUMBER])
    if pre_image:
        preview = Preview(Action.UNLINK, (), (), None)
        await store.record_preview(request_id, Purpose.BEFORE_EXECUTION, preview, now=NOW)
    record = await store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=30)
    assert record.claim is not None
    await store.record_target(
        request_id,
        0,
        record.claim,
        outcome=Outcome.DONE,
        status_code=200,
        message="unlinked",
        attempts=1,
        now=NOW,
        lease_until=NOW + 30,
    )
    await store.finish(request_id, record.claim, status=Status.SUCCEEDED, now=NOW + 1)
    return request_id


async def undo_of(store: RequestStore, original: int, key: str | None = None) -> int:
    new = NewRequest(
        org="acme",
        action=Action.UNDO,
        requester="U0ALICE",
        reason=f"undo of request #{original}",
        targets=[APP, NUMBER],
        now=NOW + 2,
        expires_at=NOW + 3600,
        dedupe_key=key,
        again=True,
        undoes=original,
    )
    request, _ = await store.create_request(new, approvals_needed=1)
    return request.id


async def test_a_finished_request_reads_back_with_its_undo_facts(
    request_store: RequestStore,
) -> None:
    store = request_store
    original = await finished(store)
    bare = await finished(store, pre_image=False)
    found = await store.get(original)
    assert found is not None and (found.pre_image, found.undo) == (True, None)
    assert (await store.get(bare)).pre_image is False  # type: ignore[union-attr]
    undo = await undo_of(store, original)
    filed = await store.get(undo)
    assert filed is not None and (filed.action, filed.undoes) == (Action.UNDO, original)
    assert (await store.get(original)).undo == (undo, Status.PENDING)  # type: ignore[union-attr]
    listed = await store.list_requests(orgs=["acme"], statuses=[Status.SUCCEEDED])
    assert {r.id: r.undo for r in listed}[original] == (undo, Status.PENDING)


async def test_one_undo_alive_per_request(request_store: RequestStore) -> None:
    store = request_store
    original = await finished(store)
    undo = await undo_of(store, original, key="slack:T1")
    assert await undo_of(store, original, key="slack:T1") == undo  # a replay: the same one
    with pytest.raises(Conflict, match=f"being undone \\(pending\\) by request #{undo}"):
        await undo_of(store, original)
    await store.transition(undo, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled")
    again = await undo_of(store, original)  # a withdrawn undo never ran: another may be filed
    assert again != undo
    assert (await store.get(original)).undo == (again, Status.PENDING)  # type: ignore[union-attr]


async def test_two_undos_filed_at_once_store_one(request_store: RequestStore) -> None:
    store = request_store
    original = await finished(store)
    results = await asyncio.gather(
        *(undo_of(store, original) for _ in range(4)), return_exceptions=True
    )
    stored = [r for r in results if isinstance(r, int)]
    assert len(stored) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, int))


async def test_a_recreate_is_attempted_and_its_app_kept_first_come(
    request_store: RequestStore,
) -> None:
    store = request_store
    original = await finished(store)
    undo = await undo_of(store, original)
    record = await store.approve(undo, approver="U0BOB", now=NOW + 3, lease_seconds=30)
    claim = record.claim
    assert claim is not None
    assert await store.attempt_create(undo, 0, claim, NOW + 4, NOW + 34) is None
    assert await store.attempt_create(undo, 0, claim, NOW + 5, NOW + 35) == NOW + 4
    with pytest.raises(LostClaim):
        await store.attempt_create(undo, 0, "not-the-claim", NOW + 5, NOW + 35)
    kept = await store.record_new_app(
        undo, 0, claim, app_id="sfv_app_new000000001", now=NOW + 6, lease_until=NOW + 36
    )
    again = await store.record_new_app(
        undo, 0, claim, app_id="sfv_app_new000000002", now=NOW + 7, lease_until=NOW + 37
    )
    assert kept == again == "sfv_app_new000000001"
    request = await store.get(undo)
    assert request is not None and request.targets[0].new_app_id == "sfv_app_new000000001"
    assert request.targets[1].new_app_id is None
    events = [e for e in await store.events(undo) if e.kind == "recreated"]
    assert [e.detail for e in events] == [
        {"app_id": APP.app_id, "new_app_id": "sfv_app_new000000001"}
    ]


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED])
async def test_the_request_taken_back_is_marked_undone_when_its_undo_succeeds(
    request_store: RequestStore, status: Status
) -> None:
    store = request_store
    original = await finished(store)
    undo = await undo_of(store, original)
    record = await store.approve(undo, approver="U0BOB", now=NOW + 3, lease_seconds=30)
    assert record.claim is not None
    await store.finish(undo, record.claim, status=status, now=NOW + 9)
    kinds = [e.kind for e in await store.events(original)]
    assert kinds.count("undone") == (1 if status is Status.SUCCEEDED else 0)
    if status is Status.SUCCEEDED:
        (event,) = [e for e in await store.events(original) if e.kind == "undone"]
        assert (event.detail, event.actor) == ({"by_request": undo}, "bot")
    assert (await store.get(original)).undo == (undo, status)  # type: ignore[union-attr]


async def test_the_migration_goes_down_and_up_again(store_factory: StoreFactory) -> None:
    """0016 down with an undo stored (its columns dropped, the rows kept), then up again."""
    store = await store_factory.open()
    original = await finished(store)
    undo = await undo_of(store, original)
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0015"))
        columns = await conn.run_sync(
            lambda c: {
                t: {col["name"] for col in inspect(c).get_columns(t)}
                for t in ("requests", "targets")
            }
        )
    assert "undoes" not in columns["requests"] and "new_app_id" not in columns["targets"]
    upgraded = await store_factory.open()  # back at head
    kept = await upgraded.get(undo)
    assert kept is not None and kept.action is Action.UNDO and kept.undoes is None
    assert await undo_of(upgraded, original) != undo  # the link was dropped with the column
