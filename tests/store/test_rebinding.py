"""A drift is one transition: executing → pending only under the claim, the approvals gone,
the targets reserved again, the new preview kept as `rebound` with its `drifted` event and the
thread's line owed, all at once. Filed requests never previewed are found for the sweep. Held
against SQLite, PostgreSQL and the memory store."""

from __future__ import annotations

import pytest

from bot.audit.export import record
from bot.audit.verify import verify
from bot.core.deliveries import Kind
from bot.core.models import Action, Status
from bot.core.preview import DRIFTED, PREVIEWED, AppPreview, Preview, Purpose
from bot.errors import LostClaim
from bot.store import Store
from tests.support.database import StoreFactory
from tests.support.filing import APP, NOW, file, refused_by
from tests.support.memory_store import MemoryFactory, MemoryStore

FILED = Preview(
    Action.DELETE, apps=(AppPreview(APP.app_id, True, "n", "ACTIVE", ("+918000000001",)),)
)
CHANGED = Preview(
    Action.DELETE,
    apps=(AppPreview(APP.app_id, True, "n", "ACTIVE", ("+918000000001", "+918000000002")),),
)
DETAIL: dict[str, object] = {"changes": ["+918000000002 is now linked to sfv_app_abc123xyz456"]}


async def test_a_drift_sends_the_claimed_request_back_to_pending_once(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store = await request_stores.open()
    request_id = await file(store, [APP], needed=1)
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    claimed = await store.approve(request_id, approver="U0BOB", now=NOW + 1, lease_seconds=60)
    assert claimed.claim is not None
    with pytest.raises(LostClaim):
        await store.drift(request_id, "not-the-claim", CHANGED, now=NOW + 2, detail=DETAIL)

    back = await store.drift(
        request_id,
        claimed.claim,
        CHANGED,
        now=NOW + 2,
        detail=DETAIL,
        owed=[(Kind.DRIFT_TOLD, "thread")],
    )

    assert back.status is Status.PENDING and back.approvals == ()
    with pytest.raises(LostClaim):  # once: the claim went with it
        await store.drift(request_id, claimed.claim, CHANGED, now=NOW + 3, detail=DETAIL)
    rebound = await store.latest_preview(request_id)
    assert rebound is not None and rebound.purpose is Purpose.REBOUND and rebound.seq == 2
    assert rebound.preview == CHANGED
    events = await store.events(request_id)
    (drifted,) = [e for e in events if e.kind == DRIFTED]
    assert drifted.detail == {**DETAIL, "seq": 2}
    assert [e.kind for e in events].count("approved") == 1  # the history stays
    assert await refused_by(store, [APP]) == request_id  # its target waits again
    again = await store.approve(request_id, approver="U0BOB", now=NOW + 4, lease_seconds=60)
    assert again.counted and again.claim is not None  # approved anew, on what it shows now
    if isinstance(store, Store):
        owed = await store.deliveries(request_id, NOW + 5)
        assert [(d.kind, d.recipient) for d in owed] == [(Kind.DRIFT_TOLD, "thread#2")]
    else:
        assert isinstance(store, MemoryStore)
        assert store.owed == [(request_id, Kind.DRIFT_TOLD, "thread#2")]


async def test_filed_requests_never_previewed_are_found_for_the_sweep(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store = await request_stores.open()
    read = await file(store, [APP])
    unread = await file(store, [APP], again=True)
    await store.record_preview(read, Purpose.FILED, FILED, now=NOW)
    assert await store.unpreviewed(NOW) == []  # filed at NOW: its own read may still come
    assert await store.unpreviewed(NOW + 5) == [unread]
    await store.transition(unread, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled")
    assert await store.unpreviewed(NOW + 5) == []


async def test_a_drift_keeps_the_chain_and_exports_what_changed(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request_id = await file(store, [APP])
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    claimed = await store.approve(request_id, approver="U0BOB", now=NOW + 1, lease_seconds=60)
    assert claimed.claim is not None
    await store.drift(request_id, claimed.claim, CHANGED, now=NOW + 2, detail=DETAIL)
    verdict = await verify(store)
    assert verdict.intact
    kinds = [e.link.kind for e in await store.audit_events()]
    assert kinds.count(PREVIEWED) == 2 and kinds.count(DRIFTED) == 1
    (exported,) = [record(e) for e in await store.audit_events() if e.link.kind == DRIFTED]
    assert exported["detail"]["changes"] == DETAIL["changes"]
    assert exported["request"] == request_id
