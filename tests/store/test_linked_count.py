"""The linked count a delete's preview gives, as every RequestStore keeps it: set with the
preview in its transaction (its `policy_redecided` event too, when given), and an approval
decided on another count writes nothing (`redecide`), so approvals are never counted under
the rules as they were before the preview landed. SQLite, PostgreSQL, the memory store."""

from __future__ import annotations

from bot.core.models import Action
from bot.core.ports import RequestStore
from bot.core.preview import AppPreview, Preview, Purpose
from tests.support.filing import APP, NOW, file

FIVE = tuple(f"+91810000000{i}" for i in range(5))
READ = Preview(Action.DELETE, apps=(AppPreview(APP.app_id, True, "demo", "ACTIVE", FIVE),))


async def test_the_count_lands_with_the_preview_and_a_stale_decision_writes_nothing(
    request_store: RequestStore,
) -> None:
    request_id = await file(request_store, [APP], needed=1)
    assert (await request_store.get(request_id)).linked_numbers is None  # type: ignore[union-attr]
    redecided = {"approvals": 3, "why": "rule 1 — 3 approvals", "linked_numbers": 5}
    await request_store.record_preview(
        request_id, Purpose.FILED, READ, now=NOW + 1, policy=redecided
    )
    request = await request_store.get(request_id)
    assert request is not None and request.linked_numbers == 5
    events = await request_store.events(request_id)
    assert [e.detail for e in events if e.kind == "policy_redecided"] == [redecided]

    # decided before the preview landed (count unknown): nothing written, decide again
    stale = await request_store.approve(
        request_id, approver="U0BOB", now=NOW + 2, lease_seconds=30, needed=1, check_linked=True
    )
    assert stale.redecide and not stale.counted and stale.claim is None
    assert (await request_store.get(request_id)).approvals == ()  # type: ignore[union-attr]
    # decided on the count: counted (and the larger quorum it asked for does not run it)
    counted = await request_store.approve(
        request_id,
        approver="U0BOB",
        now=NOW + 3,
        lease_seconds=30,
        needed=3,
        linked=5,
        check_linked=True,
    )
    assert counted.counted and counted.claim is None and not counted.redecide
    assert counted.request.approvals_needed == 3


async def test_an_unreadable_preview_leaves_the_count_unknown(request_store: RequestStore) -> None:
    request_id = await file(request_store, [APP])
    gone = Preview(Action.DELETE, unreadable="SFVoPI timed out")
    await request_store.record_preview(request_id, Purpose.FILED, gone, now=NOW + 1)
    assert (await request_store.get(request_id)).linked_numbers is None  # type: ignore[union-attr]
    counted = await request_store.approve(
        request_id, approver="U0BOB", now=NOW + 2, lease_seconds=30, check_linked=True
    )
    assert counted.counted and counted.claim is not None
