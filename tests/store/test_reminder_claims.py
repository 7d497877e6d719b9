"""The store decides who sends a reminder or an escalation: each step is claimed once, with
its event in the same transaction, only while the request is pending; a poster who stops
half-way leaves a lease that lapses, and whoever resumes sends only what is missing."""

from __future__ import annotations

import asyncio

from bot.core.models import Action, Status, Target
from bot.core.reminders import Step
from bot.store import Store
from tests.support.database import StoreFactory

NOW = 1_700_000_000.0
LEASE = 30.0


async def pending_with_card(store: Store) -> int:
    request, _ = await store.create_request(
        org="acme",
        action=Action.UNLINK,
        requester="U0ALICE",
        reason="fraud",
        targets=[Target("sfv_app_abc123xyz456", "+918000000001")],
        approvals_needed=1,
        now=NOW,
        expires_at=NOW + 3600,
    )
    await store.set_card(request.id, "C0APPROVALS", "1700000000.000100", NOW)
    return request.id


async def kinds(store: Store, request_id: int) -> list[str]:
    return [e.kind for e in await store.events(request_id)]


async def test_a_step_is_claimed_once_by_two_stores_racing(store_factory: StoreFactory) -> None:
    one, two = await store_factory.open(), await store_factory.open()
    request_id = await pending_with_card(one)
    claims = await asyncio.gather(
        *(s.claim_reminder(request_id, Step.REMIND, NOW + 600, LEASE) for s in (one, two) * 3)
    )
    assert sorted(claims) == [False] * 5 + [True]
    assert (await kinds(one, request_id)).count("reminded") == 1
    # a step already claimed is not claimed again, even once its lease lapsed
    assert not await two.claim_reminder(request_id, Step.REMIND, NOW + 600 + LEASE + 1, LEASE)


async def test_no_step_without_a_card_or_after_pending(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    request, _ = await store.create_request(
        org="acme",
        action=Action.UNLINK,
        requester="U0ALICE",
        reason="fraud",
        targets=[Target("sfv_app_abc123xyz456", "+918000000001")],
        approvals_needed=1,
        now=NOW,
        expires_at=NOW + 3600,
    )
    assert not await store.claim_reminder(request.id, Step.REMIND, NOW + 600, LEASE)
    assert await store.reminder_candidates(NOW + 600) == []
    await store.set_card(request.id, "C0APPROVALS", "1700000000.000100", NOW)
    assert [c.request_id for c in await store.reminder_candidates(NOW + 600)] == [request.id]
    await store.transition(request.id, to=Status.DENIED, actor="U0BOB", now=NOW, kind="denied")
    assert not await store.claim_reminder(request.id, Step.REMIND, NOW + 600, LEASE)
    assert await store.reminder_candidates(NOW + 600) == []


async def test_an_unfinished_step_is_resumed_with_what_was_sent(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    at = NOW + 600
    assert await store.claim_reminder(request_id, Step.REMIND, at, LEASE)
    assert await store.mark_reminder_sent(request_id, Step.REMIND, "thread", at, at + LEASE)
    assert await store.resume_reminder(request_id, Step.REMIND, at + 1, LEASE) is None  # held
    assert await store.reminder_candidates(at + 1) == []

    later = at + LEASE + 1
    (candidate,) = await store.reminder_candidates(later)
    assert (candidate.step, candidate.done) == (1, 0)
    assert await store.resume_reminder(request_id, Step.REMIND, later, LEASE) == ["thread"]
    assert await store.mark_reminder_sent(
        request_id, Step.REMIND, "dm:U0BOB", later, later + LEASE, refused="user_not_found"
    )
    await store.finish_reminder(request_id, Step.REMIND)
    assert await store.resume_reminder(request_id, Step.REMIND, later + 2 * LEASE, LEASE) is None
    (candidate,) = await store.reminder_candidates(later + 1)
    assert (candidate.step, candidate.done, candidate.lease_until) == (1, 1, None)

    assert await store.claim_reminder(request_id, Step.ESCALATE, later + 1, LEASE)
    assert await store.reminder_candidates(later + 2 * LEASE) != []  # escalation unfinished
    await store.finish_reminder(request_id, Step.ESCALATE)
    assert await store.reminder_candidates(later + 2 * LEASE) == []
    events = await store.events(request_id)
    assert [e.kind for e in events].count("reminded") == 1
    assert [e.detail for e in events if e.kind == "slack_refused"] == [
        {"step": "reminded", "to": "dm:U0BOB", "error": "user_not_found"}
    ]


async def test_a_poster_stops_once_the_request_left_pending(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    assert await store.claim_reminder(request_id, Step.REMIND, NOW + 600, LEASE)
    await store.transition(request_id, to=Status.CANCELLED, actor="U0ALICE", now=NOW, kind="x")
    assert not await store.mark_reminder_sent(
        request_id, Step.REMIND, "thread", NOW + 601, NOW + 601 + LEASE
    )
    assert await store.resume_reminder(request_id, Step.REMIND, NOW + 700, LEASE) is None
