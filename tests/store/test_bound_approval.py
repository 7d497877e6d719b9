"""An approval counted only on the preview the approver was shown (`seen`, the seq of the
newest `filed` or `rebound` preview, 0 for none): otherwise nothing is written, decided in the
approval's own transaction. Held against SQLite, PostgreSQL and the memory store."""

from __future__ import annotations

from bot.core.models import Action, Status
from bot.core.preview import AppPreview, Preview, Purpose
from tests.support.database import StoreFactory
from tests.support.filing import APP, NOW, file
from tests.support.memory_store import MemoryFactory

FILED = Preview(
    Action.DELETE, apps=(AppPreview(APP.app_id, True, "n", "ACTIVE", ("+918000000001",)),)
)
CHANGED = Preview(Action.DELETE, apps=(AppPreview(APP.app_id, False),))


async def test_an_approval_on_a_preview_no_longer_the_newest_writes_nothing(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store = await request_stores.open()
    request_id = await file(store, [APP], needed=2)

    unread = await store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=60, seen=1)
    assert unread.stale and not unread.counted and unread.claim is None
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW + 1)
    for seen in (2, 99):  # a preview it does not have (0, shown nothing, binds nothing)
        record = await store.approve(
            request_id, approver="U0BOB", now=NOW + 2, lease_seconds=60, seen=seen
        )
        assert record.stale and not record.counted, seen
        assert record.request.status is Status.PENDING and record.request.approvals == ()
    assert "approved" not in [e.kind for e in await store.events(request_id)]

    bob = await store.approve(request_id, approver="U0BOB", now=NOW + 3, lease_seconds=60, seen=1)
    assert bob.counted and not bob.stale
    await store.record_preview(request_id, Purpose.REBOUND, CHANGED, now=NOW + 4)
    late = await store.approve(
        request_id, approver="U0CAROL", now=NOW + 5, lease_seconds=60, seen=1
    )
    assert late.stale and late.claim is None and late.request.approvers == ("U0BOB",)
    carol = await store.approve(
        request_id, approver="U0CAROL", now=NOW + 6, lease_seconds=60, seen=2
    )
    assert carol.counted and carol.claim is not None


async def test_a_pre_image_is_not_a_preview_an_approval_is_given_on(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store = await request_stores.open()
    request_id = await file(store, [APP], needed=2)
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    await store.record_preview(request_id, Purpose.BEFORE_EXECUTION, CHANGED, now=NOW + 1)
    record = await store.approve(
        request_id, approver="U0BOB", now=NOW + 2, lease_seconds=60, seen=1
    )
    assert record.counted and not record.stale


async def test_without_seen_nothing_is_checked_and_a_request_left_pending_says_so_first(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store = await request_stores.open()
    request_id = await file(store, [APP], needed=1)
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    record = await store.approve(request_id, approver="U0BOB", now=NOW + 1, lease_seconds=60)
    assert record.counted and record.claim is not None  # a caller that showed no preview
    after = await store.approve(
        request_id, approver="U0CAROL", now=NOW + 2, lease_seconds=60, seen=0
    )
    assert after.refused is Status.EXECUTING and not after.stale
