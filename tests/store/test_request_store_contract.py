"""What every RequestStore (bot.core.ports) promises the workflow, held against SQLite,
PostgreSQL and the in-memory store the rule tests use (tests/support/memory_store.py): if the
fake drifts from the database, this suite says where. The SQL-only guarantees (two stores
racing on one database, the upgrade, crashes) stay in their own files."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.core.models import Action, NewRequest, Outcome, Request, Review, Status, Target
from bot.core.ports import RequestStore
from bot.errors import AlreadyPending, KeyReused, LostClaim
from tests.support.database import StoreFactory
from tests.support.filing import APP, NOW, NUMBER, OTHER, file, refused_by
from tests.support.memory_store import MemoryFactory


async def glass(
    store: RequestStore, *, again: bool = False, key: str | None = None, now: float = NOW
) -> int:
    request, claim = await glass_claim(store, again=again, key=key, now=now)
    assert (claim is not None) == (request.status is Status.EXECUTING)
    return request.id


async def glass_claim(
    store: RequestStore, *, again: bool, key: str | None, now: float
) -> tuple[Request, str | None]:
    """Breaks glass on NUMBER: the request and its claim (None for a replay of `key`)."""
    return await store.create_break_glass(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud",
            targets=[NUMBER],
            now=now,
            expires_at=NOW + 3600,
            dedupe_key=key,
            again=again,
        ),
        incident="INC-4411",
        review_due_at=NOW + 3600,
        lease_seconds=30,
    )


async def kinds(store: RequestStore, request_id: int) -> list[str]:
    return [e.kind for e in await store.events(request_id)]


# -- already pending: reserved once per org, let go on every way out of pending -------------


async def test_a_refusal_stores_nothing_and_names_the_target_held(
    request_store: RequestStore,
) -> None:
    first = await file(request_store, [OTHER])
    with pytest.raises(AlreadyPending, match=r"\+918000000002 on sfv_app_abc123xyz456"):
        await file(request_store, [NUMBER, OTHER])
    assert [r.id for r in await request_store.list_requests(orgs=["acme"])] == [first]
    # the free target of the refused request was not left reserved either
    assert await file(request_store, [NUMBER]) != first


async def test_targets_differ_by_number_app_and_org(request_store: RequestStore) -> None:
    await file(request_store, [NUMBER])
    await file(request_store, [OTHER])
    await file(request_store, [APP])  # deleting the app is another target than a number on it
    await file(request_store, [NUMBER], org="globex")
    assert await refused_by(request_store, [APP]) > 0


async def test_again_coexists_and_inherits_the_target(request_store: RequestStore) -> None:
    store = request_store
    first = await file(store)
    second = await file(store, again=True)
    assert await refused_by(store) == first
    await store.transition(first, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled")
    assert await refused_by(store) == second
    await store.transition(second, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled")
    assert await file(store) > second


async def test_pending_with_targets_names_the_oldest_and_skips_a_replay(
    request_store: RequestStore,
) -> None:
    first = await file(request_store, [NUMBER], dedupe_key="k1")
    await file(request_store, [NUMBER, OTHER], again=True)
    found = await request_store.pending_with_targets("acme", [NUMBER, OTHER, APP])
    assert found == {NUMBER: first, OTHER: first + 1}
    assert await request_store.pending_with_targets("globex", [NUMBER]) == {}
    skipped = await request_store.pending_with_targets("acme", [NUMBER], not_dedupe_key="k1")
    assert skipped == {NUMBER: first + 1}


async def deny(store: RequestStore, request_id: int) -> None:
    await store.transition(request_id, to=Status.DENIED, actor="U0BOB", now=NOW, kind="denied")


async def cancel(store: RequestStore, request_id: int) -> None:
    await store.transition(
        request_id, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled"
    )


async def expire(store: RequestStore, request_id: int) -> None:
    await store.transition(request_id, to=Status.EXPIRED, actor="bot", now=NOW, kind="expired")


async def expire_on_click(store: RequestStore, request_id: int) -> None:
    record = await store.approve(request_id, approver="U0BOB", now=NOW + 7200, lease_seconds=30)
    assert record.request.status is Status.EXPIRED


async def execute(store: RequestStore, request_id: int) -> None:
    record = await store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=30)
    assert record.claim is not None
    await store.finish(request_id, record.claim, status=Status.SUCCEEDED, now=NOW)


@pytest.mark.parametrize("leave", [deny, cancel, expire, expire_on_click, execute])
async def test_leaving_pending_lets_the_target_go(
    request_stores: StoreFactory | MemoryFactory, leave: object
) -> None:
    one, two = await request_stores.open(), await request_stores.open()
    first = await file(one)
    assert await refused_by(two) == first
    await leave(one, first)  # type: ignore[operator]
    assert await file(two) > first


async def test_break_glass_is_refused_by_a_pending_target_and_holds_none(
    request_store: RequestStore,
) -> None:
    await glass(request_store)
    pending = await file(request_store)  # the break-glass request never held its target
    with pytest.raises(AlreadyPending):
        await glass(request_store)
    await glass(request_store, again=True)
    assert await refused_by(request_store) == pending


# -- dedupe keys ----------------------------------------------------------------------------


async def test_a_replay_of_the_dedupe_key_returns_the_first(request_store: RequestStore) -> None:
    first = await file(request_store, [NUMBER, OTHER], dedupe_key="slack:T0001:trigger-1")
    request, created = await request_store.create_request(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud",
            targets=[OTHER, NUMBER],  # in another order, still the same request
            now=NOW + 5,
            expires_at=NOW + 3600,
            dedupe_key="slack:T0001:trigger-1",
        ),
        approvals_needed=1,
    )
    assert (request.id, created) == (first, False)
    assert await refused_by(request_store) == first
    assert await kinds(request_store, first) == ["requested"]


@pytest.mark.parametrize(
    "change",
    [{"reason": "another reason"}, {"targets": [APP]}, {"org": "globex"}],
)
async def test_a_key_replayed_for_another_request_files_nothing(
    request_store: RequestStore, change: dict[str, object]
) -> None:
    first = await file(request_store, dedupe_key="k1")
    with pytest.raises(KeyReused, match="this key already filed a different request"):
        await file(request_store, dedupe_key="k1", again=True, **change)  # type: ignore[arg-type]
    assert [r.id for r in await request_store.list_requests(orgs=["acme", "globex"])] == [first]


@pytest.mark.parametrize(
    "change",
    [{"run_after": NOW + 7200}, {"run_after": None}, {"requester": "U0BOB"}, {"undoes": 7}],
)
async def test_a_key_replayed_with_another_time_or_requester_files_nothing(
    request_store: RequestStore, change: dict[str, object]
) -> None:
    """What `at` asks (run_after), who asks and what an undo takes back are part of what is
    filed; `again` is not."""
    asked = NewRequest(
        org="acme",
        action=Action.UNLINK,
        requester="U0ALICE",
        reason="fraud",
        targets=[NUMBER],
        now=NOW,
        expires_at=NOW + 3600,
        dedupe_key="k1",
        run_after=NOW + 3600,
    )
    first, _ = await request_store.create_request(asked, approvals_needed=1)
    replay = replace(asked, now=NOW + 5, again=True)
    same, created = await request_store.create_request(replay, approvals_needed=1)
    assert (same.id, same.run_after, created) == (first.id, NOW + 3600, False)
    with pytest.raises(KeyReused):
        changed = replace(replay, **change)  # type: ignore[arg-type]
        await request_store.create_request(changed, approvals_needed=1)
    assert [r.id for r in await request_store.list_requests(orgs=["acme"])] == [first.id]


async def test_a_break_glass_replay_returns_the_first_unclaimed(
    request_store: RequestStore,
) -> None:
    first = await glass(request_store, key="k1")
    again, claim = await glass_claim(request_store, again=False, key="k1", now=NOW + 1)
    assert (again.id, claim) == (first, None)
    with pytest.raises(KeyReused):
        await file(request_store, dedupe_key="k1")  # not a break-glass request: another one


# -- approvals: counted once, quorum decided inside the transition ---------------------------


async def test_one_approver_counts_once_and_the_quorum_claims(
    request_store: RequestStore,
) -> None:
    request_id = await file(request_store, [APP], needed=2)
    first = await request_store.approve(
        request_id, approver="U0BOB", now=NOW + 1, lease_seconds=30, note="checked"
    )
    assert (first.counted, first.claim, first.refused) == (True, None, None)
    twice = await request_store.approve(request_id, approver="U0BOB", now=NOW + 2, lease_seconds=30)
    assert (twice.counted, twice.claim) == (False, None)
    done = await request_store.approve(
        request_id, approver="U0CAROL", now=NOW + 3, lease_seconds=30
    )
    assert done.counted and done.claim is not None
    request = done.request
    assert (request.status, request.decided_by, request.executions) == (
        Status.EXECUTING,
        "U0CAROL",
        1,
    )
    assert [(a.approver, a.note) for a in request.approvals] == [
        ("U0BOB", "checked"),
        ("U0CAROL", None),
    ]
    events = await request_store.events(request_id)
    assert [e.kind for e in events] == ["requested", "approved", "approved", "claimed"]
    assert events[1].detail == {"note": "checked"} and events[2].detail == {}
    assert events[3].detail == {"lease_seconds": 30}
    late = await request_store.approve(request_id, approver="U0DAVE", now=NOW + 4, lease_seconds=30)
    assert (late.counted, late.claim, late.refused) == (False, None, Status.EXECUTING)


async def test_concurrent_approvals_claim_once(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    stores = [await request_stores.open(), await request_stores.open()]
    request_id = await file(stores[0], [APP], needed=2)
    records = await asyncio.gather(
        *(
            stores[i % 2].approve(request_id, approver=f"U0APP{i:03d}", now=NOW, lease_seconds=30)
            for i in range(20)
        )
    )
    assert len([r for r in records if r.claim is not None]) == 1
    assert (await kinds(stores[1], request_id)).count("claimed") == 1


async def test_an_approval_after_the_deadline_expires_the_request(
    request_store: RequestStore,
) -> None:
    request_id = await file(request_store)
    record = await request_store.approve(
        request_id, approver="U0BOB", now=NOW + 3600, lease_seconds=5
    )
    assert (record.refused, record.counted, record.claim) == (Status.EXPIRED, False, None)
    assert (record.request.status, record.request.approvals) == (Status.EXPIRED, ())
    assert record.request.decided_by == "bot"
    assert await kinds(request_store, request_id) == ["requested", "expired"]
    assert await file(request_store) > request_id


async def test_approving_a_missing_request_is_a_lookup_error(request_store: RequestStore) -> None:
    with pytest.raises(LookupError):
        await request_store.approve(404, approver="U0BOB", now=NOW, lease_seconds=5)


async def test_only_eligible_approvals_count_and_the_others_are_withdrawn(
    request_store: RequestStore,
) -> None:
    request_id = await file(request_store, [APP], needed=2)
    await request_store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=30)
    record = await request_store.approve(
        request_id, approver="U0CAROL", now=NOW + 1, lease_seconds=30, eligible={"U0CAROL"}
    )
    assert record.counted and record.claim is None
    assert record.request.approvers == ("U0CAROL",)
    events = await request_store.events(request_id)
    assert events[-1].kind == "approval_withdrawn"
    assert events[-1].detail == {
        "approver": "U0BOB",
        "reason": "no longer an approver in the org file in force",
    }
    done = await request_store.approve(
        request_id, approver="U0DAVE", now=NOW + 2, lease_seconds=30, eligible={"U0CAROL", "U0DAVE"}
    )
    assert done.claim is not None


async def test_a_raised_policy_is_recorded_and_a_lowered_one_is_not_applied(
    request_store: RequestStore,
) -> None:
    raised = await file(request_store, [APP], needed=1)
    record = await request_store.approve(
        raised, approver="U0BOB", now=NOW, lease_seconds=30, needed=2
    )
    assert (record.counted, record.claim, record.request.approvals_needed) == (True, None, 2)
    events = await request_store.events(raised)
    assert (events[-1].kind, events[-1].detail) == ("policy_raised", {"approvals_needed": 2})
    lowered = await file(request_store, [NUMBER], needed=2)
    record = await request_store.approve(
        lowered, approver="U0BOB", now=NOW, lease_seconds=30, needed=1
    )
    assert (record.claim, record.request.approvals_needed) == (None, 2)
    assert "policy_raised" not in await kinds(request_store, lowered)


# -- deciding without running --------------------------------------------------------------


async def test_a_transition_moves_only_a_pending_request(request_store: RequestStore) -> None:
    request_id = await file(request_store)
    denied = await request_store.transition(
        request_id,
        to=Status.DENIED,
        actor="U0BOB",
        now=NOW + 1,
        kind="denied",
        detail={"note": "wrong number"},
    )
    assert denied is not None
    assert (denied.status, denied.decided_by, denied.decision_note, denied.finished_at) == (
        Status.DENIED,
        "U0BOB",
        "wrong number",
        NOW + 1,
    )
    again = await request_store.transition(
        request_id, to=Status.CANCELLED, actor="U0ALICE", now=NOW + 2, kind="cancelled"
    )
    assert again is None
    assert (
        await request_store.transition(
            404, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="cancelled"
        )
        is None
    )
    events = await request_store.events(request_id)
    assert [(e.kind, e.actor, e.detail) for e in events[1:]] == [
        ("denied", "U0BOB", {"note": "wrong number"})
    ]


async def test_due_for_expiry_names_candidates_only(request_store: RequestStore) -> None:
    due = await file(request_store)
    later = await file(request_store, [OTHER])
    assert await request_store.due_for_expiry(NOW + 3599) == []
    assert await request_store.due_for_expiry(NOW + 3600) == [due, later]
    await deny(request_store, later)
    assert await request_store.due_for_expiry(NOW + 3600) == [due]


# -- claims and leases ---------------------------------------------------------------------


async def claimed(store: RequestStore, lease: float = 30) -> tuple[int, str]:
    request_id = await file(store, [NUMBER, OTHER])
    record = await store.approve(request_id, approver="U0BOB", now=NOW, lease_seconds=lease)
    assert record.claim is not None
    return request_id, record.claim


async def test_a_lapsed_lease_is_taken_over_once(request_store: RequestStore) -> None:
    request_id, claim = await claimed(request_store, lease=10)
    assert await request_store.stale_executions(NOW + 10) == []
    assert await request_store.stale_executions(NOW + 11) == [(request_id, claim)]
    assert await request_store.reclaim(request_id, claim, NOW + 10, 10) is None  # not lapsed
    taken = await request_store.reclaim(request_id, claim, NOW + 11, 10)
    assert taken is not None and taken != claim
    assert await request_store.reclaim(request_id, claim, NOW + 11, 10) is None
    with pytest.raises(LostClaim):
        await request_store.renew(request_id, claim, NOW + 40)
    with pytest.raises(LostClaim):
        await request_store.finish(request_id, claim, status=Status.SUCCEEDED, now=NOW + 12)
    await request_store.renew(request_id, taken, NOW + 40)
    assert await request_store.stale_executions(NOW + 30) == []
    request = await request_store.get(request_id)
    assert request is not None and request.executions == 2
    assert (await kinds(request_store, request_id))[-1] == "reclaimed"


async def test_a_target_keeps_its_first_outcome(request_store: RequestStore) -> None:
    store = request_store
    request_id, claim = await claimed(store)
    assert await store.start_target(request_id, 0, claim, NOW + 1, NOW + 31) is False
    assert await store.start_target(request_id, 0, claim, NOW + 2, NOW + 32) is True
    assert await store.start_target(request_id, 1, claim, NOW + 2, NOW + 32) is False
    for outcome, message in [(Outcome.DONE, "success"), (Outcome.FAILED, "late retry")]:
        await store.record_target(
            request_id,
            0,
            claim,
            outcome=outcome,
            status_code=200,
            message=message,
            attempts=2,
            now=NOW + 3,
            lease_until=NOW + 33,
        )
    with pytest.raises(LostClaim):
        await store.start_target(request_id, 1, "not-the-claim", NOW + 3, NOW + 33)
    done = await store.finish(request_id, claim, status=Status.FAILED, now=NOW + 4)
    first = done.targets[0]
    assert (first.outcome, first.message, first.attempts) == (Outcome.DONE, "success", 2)
    assert done.targets[1].outcome is None
    assert (done.status, done.finished_at) == (Status.FAILED, NOW + 4)
    events = await store.events(request_id)
    assert [e.kind for e in events][-3:] == ["api_result", "api_result", "failed"]
    assert events[-3].actor == "sfvopi"
    assert events[-3].detail == {
        "target": str(NUMBER),
        "outcome": "done",
        "status_code": 200,
        "message": "success",
        "attempts": 2,
    }
    assert await store.stale_executions(NOW + 1000) == []
    with pytest.raises(LostClaim):
        await store.finish(request_id, claim, status=Status.SUCCEEDED, now=NOW + 5)


# -- break glass ---------------------------------------------------------------------------


async def test_break_glass_is_stored_claimed_and_reviewed_once(
    request_store: RequestStore,
) -> None:
    store = request_store
    request_id = await glass(store)
    request = await store.get(request_id)
    assert request is not None
    assert (request.status, request.break_glass, request.incident, request.review) == (
        Status.EXECUTING,
        True,
        "INC-4411",
        Review.PENDING,
    )
    assert (request.decided_by, request.approvals_needed) == ("U0ALICE", 0)
    early = await store.review(
        request_id, reviewer="U0BOB", verdict=Review.ACKNOWLEDGED, note=None, now=NOW
    )
    assert early is None  # not finished yet
    ((_, claim),) = await store.stale_executions(NOW + 31)
    await store.record_target(
        request_id,
        0,
        claim,
        outcome=Outcome.DONE,
        status_code=200,
        message="success",
        attempts=1,
        now=NOW + 1,
        lease_until=NOW + 31,
    )
    await store.finish(request_id, claim, status=Status.SUCCEEDED, now=NOW + 2)
    reviewed = await store.review(
        request_id, reviewer="U0BOB", verdict=Review.FLAGGED, note="why?", now=NOW + 3
    )
    assert reviewed is not None
    assert (reviewed.review, reviewed.reviewed_by, reviewed.review_note) == (
        Review.FLAGGED,
        "U0BOB",
        "why?",
    )
    again = await store.review(
        request_id, reviewer="U0CAROL", verdict=Review.ACKNOWLEDGED, note=None, now=NOW + 4
    )
    assert again is None
    events = await store.events(request_id)
    assert [e.kind for e in events] == [
        "requested",
        "broke_glass",
        "claimed",
        "api_result",
        "executed",
        "succeeded",
        "reviewed",
    ]
    assert events[1].detail == {"incident": "INC-4411", "reason": "fraud"}
    assert events[4].detail == {"targets": [{"target": str(NUMBER), "outcome": "done"}]}
    assert events[6].detail == {"review": "flagged", "note": "why?"}


async def test_a_request_that_is_not_break_glass_is_never_reviewed(
    request_store: RequestStore,
) -> None:
    request_id = await file(request_store)
    await deny(request_store, request_id)
    assert (
        await request_store.review(
            request_id, reviewer="U0BOB", verdict=Review.ACKNOWLEDGED, note=None, now=NOW
        )
        is None
    )


# -- reading -------------------------------------------------------------------------------


async def test_reading_is_by_org_newest_first(request_store: RequestStore) -> None:
    store = request_store
    one = await file(store, [NUMBER])
    two = await file(store, [OTHER])
    theirs = await file(store, [NUMBER], org="globex")
    await deny(store, two)
    assert [r.id for r in await store.list_requests(orgs=["acme"])] == [two, one]
    assert [r.id for r in await store.list_requests(orgs=["acme", "globex"], limit=2)] == [
        theirs,
        two,
    ]
    pending = await store.list_requests(orgs=["acme"], statuses=[Status.PENDING])
    assert [r.id for r in pending] == [one]
    # what a list capped for display counts in all (`/sfvopi pending`: "showing 50 of 60")
    assert await store.count_requests(orgs=["acme"], statuses=[Status.PENDING]) == 1
    assert await store.count_requests(orgs=["acme", "globex"], statuses=[Status.PENDING]) == 2
    assert await store.count_requests(orgs=["acme"], statuses=[Status.DENIED]) == 1
    assert await store.count_requests(orgs=["nobody"], statuses=list(Status)) == 0
    assert await store.list_requests(orgs=["acme"], requester="U0BOB") == []
    assert await store.get(theirs, orgs=["acme"]) is None
    assert await store.get(404) is None
    got = await store.get(one, orgs=["acme"])
    assert got is not None and got == (await store.list_requests(orgs=["acme"]))[1]


async def test_a_request_reads_back_as_filed(request_store: RequestStore) -> None:
    request, created = await request_store.create_request(
        NewRequest(
            org="acme",
            action=Action.DELETE,
            requester="U0ALICE",
            reason="decommission",
            targets=[APP, Target("app_abc123")],
            now=NOW,
            expires_at=NOW + 60,
            channel_id="C0OPS",
            response_url="https://hooks.slack.com/commands/T0/1/x",
        ),
        approvals_needed=3,
        filed_by_step=True,
    )
    assert created and request == await request_store.get(request.id)
    assert (request.status, request.filed_by_step, request.channel_id) == (
        Status.PENDING,
        True,
        "C0OPS",
    )
    assert [str(t.target) for t in request.targets] == [str(APP), "app_abc123"]
    (event,) = await request_store.events(request.id)
    assert (event.actor, event.at, event.kind) == ("U0ALICE", NOW, "requested")
    assert event.detail == {
        "action": "delete",
        "targets": [str(APP), "app_abc123"],
        "reason": "decommission",
        "filed_by": "filed by a workflow step; requester as named by the workflow",
    }
