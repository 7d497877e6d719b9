"""The Slack outbox's store contract, on SQLite and PostgreSQL: what a change owes is written
with it; each delivery is claimed once however many stores race, a lapsed lease is claimed
again, a refusal to retry waits its back-off (its step's later posts with it), and a done
delivery is never due again."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from bot.core.deliveries import AT_ONCE, Delivery, Kind
from bot.core.models import Action, NewRequest, Review, Status, Target
from bot.store import Store
from bot.store.schema import slack_deliveries_t
from tests.support.database import StoreFactory
from tests.support.filing import broke_glass

NOW = 1_700_000_000.0
LEASE = 30.0
REMIND_AT, ESCALATE_AT = NOW + 600, NOW + 1800
OWED = [(Kind.REMINDED, REMIND_AT), (Kind.ESCALATED, ESCALATE_AT)]


async def pending(store: Store, number: str = "+918000000001") -> int:
    request, _ = await store.create_request(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason="fraud",
            targets=[Target("sfv_app_abc123xyz456", number)],
            now=NOW,
            expires_at=NOW + 3600,
        ),
        approvals_needed=1,
    )
    return request.id


async def pending_with_card(store: Store) -> int:
    request_id = await pending(store)
    await store.set_card(request_id, "C0APPROVALS", "1700000000.000100", NOW, OWED)
    return request_id


async def kinds(store: Store, request_id: int) -> list[str]:
    return [e.kind for e in await store.events(request_id)]


async def expanded(store: Store, request_id: int, at: float) -> list[Delivery]:
    """Claims and expands the reminder step due at `at`: its posts, due."""
    (step,) = await store.deliveries(request_id, at)
    assert step.is_step and step.kind is Kind.REMINDED
    assert await store.claim_delivery(step, at, LEASE)
    keys = ["thread", "dm:U0BOB", "dm:U0CAROL"]
    assert await store.expand_delivery(step, keys, at, {"to": keys})
    return await store.deliveries(request_id, at)


async def test_the_card_owes_its_reminder_steps_each_due_at_its_time(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    assert await store.due_deliveries(REMIND_AT - 1) == []
    assert await store.due_deliveries(REMIND_AT) == [request_id]
    due = await store.deliveries(request_id, ESCALATE_AT)
    assert [(d.kind, d.recipient, d.due_at) for d in due] == [
        (Kind.REMINDED, "", REMIND_AT),
        (Kind.ESCALATED, "", ESCALATE_AT),
    ]


async def test_a_step_is_claimed_once_by_two_stores_racing(store_factory: StoreFactory) -> None:
    one, two = await store_factory.open(), await store_factory.open()
    request_id = await pending_with_card(one)
    (step,) = await one.deliveries(request_id, REMIND_AT)
    claims = await asyncio.gather(
        *(s.claim_delivery(step, REMIND_AT, LEASE) for s in (one, two) * 3)
    )
    assert sorted(claims) == [False] * 5 + [True]
    expansions = await asyncio.gather(
        *(s.expand_delivery(step, ["thread"], REMIND_AT, {}) for s in (one, two))
    )
    assert sorted(expansions) == [False, True]
    assert (await kinds(one, request_id)).count("reminded") == 1
    (post,) = await two.deliveries(request_id, REMIND_AT)
    assert post.recipient == "thread"
    claims = await asyncio.gather(*(s.claim_delivery(post, REMIND_AT, LEASE) for s in (one, two)))
    assert sorted(claims) == [False, True]


async def test_a_lapsed_lease_is_claimed_again(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    thread, *_ = await expanded(store, request_id, REMIND_AT)
    assert await store.claim_delivery(thread, REMIND_AT, LEASE)
    assert not await store.claim_delivery(thread, REMIND_AT + LEASE - 1, LEASE)  # held
    assert thread.id not in [d.id for d in await store.deliveries(request_id, REMIND_AT + 1)]
    assert await store.claim_delivery(thread, REMIND_AT + LEASE + 1, LEASE)  # a crash: lapsed


async def test_a_refusal_is_recorded_and_retried_after_its_back_off(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    thread, bob, _ = await expanded(store, request_id, REMIND_AT)
    assert await store.claim_delivery(thread, REMIND_AT, LEASE)
    await store.delivery_refused(thread, "ratelimited", REMIND_AT, REMIND_AT + 2 * LEASE)
    # the step's other posts wait with it, so they still go out in order
    assert await store.deliveries(request_id, REMIND_AT + LEASE) == []
    assert not await store.claim_delivery(bob, REMIND_AT + LEASE, LEASE)
    again = await store.deliveries(request_id, REMIND_AT + 2 * LEASE + 1)
    assert [(d.recipient, d.attempts) for d in again] == [
        ("thread", 1),
        ("dm:U0BOB", 0),
        ("dm:U0CAROL", 0),
    ]
    assert "slack_refused" not in await kinds(store, request_id)  # not final: no event


async def test_done_deliveries_are_never_due_again(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    thread, bob, carol = await expanded(store, request_id, REMIND_AT)
    for delivery in (thread, bob, carol):
        assert await store.claim_delivery(delivery, REMIND_AT, LEASE)
    await store.delivered(thread, "C0APPROVALS", "1700000600.000100", REMIND_AT)
    await store.delivered(bob, "D0BOB", "1700000600.000200", REMIND_AT)
    await store.delivery_refused(carol, "user_not_found", REMIND_AT, None)  # for good
    later = REMIND_AT + 10 * LEASE
    assert [d.kind for d in await store.deliveries(request_id, ESCALATE_AT - 1)] == []
    assert not await store.claim_delivery(thread, later, LEASE)
    assert not await store.claim_delivery(carol, later, LEASE)
    events = await store.events(request_id)
    assert [e.detail for e in events if e.kind == "slack_refused"] == [
        {"step": "reminded", "to": "dm:U0CAROL", "error": "user_not_found"}
    ]
    # only the escalation is left; a done row is never expanded or posted again
    (escalation,) = await store.deliveries(request_id, ESCALATE_AT)
    assert escalation.kind is Kind.ESCALATED and escalation.is_step
    assert not await store.expand_delivery(thread, ["thread"], later, {})


async def test_break_glass_owes_its_escalation_when_filed_and_its_telling_when_reviewed(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request, claim = await broke_glass(store, now=NOW, lease=LEASE)
    due = await store.deliveries(request.id, NOW + 3600)
    assert [(d.kind, d.recipient) for d in due] == [(Kind.REVIEW_ESCALATED, "")]
    await store.finish(request.id, claim, status=Status.SUCCEEDED, now=NOW + 1)
    reviewed = await store.review(
        request.id, reviewer="U0BOB", verdict=Review.ACKNOWLEDGED, note=None, now=NOW + 2
    )
    assert reviewed is not None and not reviewed.review_escalated
    due = await store.deliveries(request.id, NOW + 2)
    assert [(d.kind, d.due_at) for d in due] == [
        (Kind.ANNOUNCED, AT_ONCE),
        (Kind.REVIEW_TOLD, AT_ONCE),
    ]


async def test_a_final_state_owes_its_announcement_told_once_its_last_post_is_done(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    await store.transition(request_id, to=Status.DENIED, actor="U0BOB", now=NOW + 5, kind="denied")
    due = await store.deliveries(request_id, NOW + 5)
    assert [(d.kind, d.recipient) for d in due] == [(Kind.ANNOUNCED, "")]
    (step,) = due
    assert await store.claim_delivery(step, NOW + 5, LEASE)
    assert await store.expand_delivery(step, ["thread", "outcome"], NOW + 5, {})
    thread, line = await store.deliveries(request_id, NOW + 5)
    await store.delivered(thread, "C0APPROVALS", "1.1", NOW + 6)
    told = await store.get(request_id)
    assert told is not None and told.notified_at is None  # the outcome line is still owed
    await store.delivered(line, "C0OPSLOG", "1.2", NOW + 7)
    told = await store.get(request_id)
    assert told is not None and told.notified_at == NOW + 7
    assert (await kinds(store, request_id)).count("announced") == 1
    await store.delivered(line, "C0OPSLOG", "1.2", NOW + 8)  # a repeat changes nothing
    assert (await kinds(store, request_id)).count("announced") == 1


async def test_an_announcement_whose_last_posts_two_replicas_finish_at_once_is_told(
    store_factory: StoreFactory,
) -> None:
    """Each replica marks its post done and counts what is left in its own transaction:
    neither may miss the other's (a request left untold for good, with nothing due)."""
    one, two = await store_factory.open(), await store_factory.open()
    ids = []
    for _ in range(12):
        request_id = await pending_with_card(one)
        await one.transition(
            request_id, to=Status.DENIED, actor="U0BOB", now=NOW + 5, kind="denied"
        )
        (step,) = await one.deliveries(request_id, NOW + 5)
        assert await one.claim_delivery(step, NOW + 5, LEASE)
        assert await one.expand_delivery(step, ["thread", "outcome"], NOW + 5, {})
        ids.append(request_id)
    for request_id in ids:
        thread, line = await one.deliveries(request_id, NOW + 5)
        await asyncio.gather(
            one.delivered(thread, "C0APPROVALS", "1.1", NOW + 6),
            two.delivered(line, "C0OPSLOG", "1.2", NOW + 6),
        )
    untold = [r for r in ids if (got := await one.get(r)) is None or got.notified_at is None]
    assert untold == []
    for request_id in ids:
        assert (await kinds(one, request_id)).count("announced") == 1


async def test_an_outcome_left_untold_with_every_post_done_is_told_by_the_next_sweep(
    store_factory: StoreFactory,
) -> None:
    """What that race left behind before it was closed: nothing due, never told."""
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    await store.transition(request_id, to=Status.DENIED, actor="U0BOB", now=NOW + 5, kind="denied")
    (step,) = await store.deliveries(request_id, NOW + 5)
    assert await store.claim_delivery(step, NOW + 5, LEASE)
    assert await store.expand_delivery(step, ["thread", "outcome"], NOW + 5, {})
    assert await store.settle_announcements(NOW + 6) == []  # its posts are still owed
    async with store.engine.begin() as conn:  # both done, neither counted the other's
        await conn.execute(update(slack_deliveries_t).values(done_at=NOW + 6))
    assert await store.deliveries(request_id, NOW + 7) == []
    assert await store.settle_announcements(NOW + 7) == [request_id]
    told = await store.get(request_id)
    assert told is not None and told.notified_at == NOW + 7
    assert await store.settle_announcements(NOW + 8) == []
    assert (await kinds(store, request_id)).count("announced") == 1


async def test_a_renewal_only_extends_a_lease_still_held(store_factory: StoreFactory) -> None:
    """A slow post's poster renews its lease; a renewal never shortens a refusal's back-off,
    never revives a released card claim, and does nothing once the post is done."""
    store = await store_factory.open()
    request_id = await pending_with_card(store)
    (step,) = await store.deliveries(request_id, REMIND_AT)
    assert await store.claim_delivery(step, REMIND_AT, LEASE)
    await store.renew_delivery(step, REMIND_AT + 2 * LEASE)
    assert await store.deliveries(request_id, REMIND_AT + LEASE) == []  # still held
    assert await store.deliveries(request_id, REMIND_AT + 2 * LEASE + 1) != []
    await store.delivery_refused(step, "ratelimited", REMIND_AT, REMIND_AT + 8 * LEASE)
    await store.renew_delivery(step, REMIND_AT + 3 * LEASE)  # shorter than the back-off
    assert await store.deliveries(request_id, REMIND_AT + 7 * LEASE) == []
    assert step.id in [d.id for d in await store.deliveries(request_id, REMIND_AT + 8 * LEASE + 1)]
    await store.drop_delivery(step, REMIND_AT)
    await store.renew_delivery(step, REMIND_AT + 100 * LEASE)  # done: nothing to renew
    assert step.id not in [d.id for d in await store.deliveries(request_id, ESCALATE_AT)]

    carded = await pending(store, "+918000000002")
    assert await store.claim_card(carded, NOW, LEASE)
    await store.renew_card(carded, NOW + 2 * LEASE)
    assert not await store.claim_card(carded, NOW + LEASE, LEASE)  # renewed: still held
    await store.note_slack_problem(carded, "card:channel_not_found", NOW, release_card=True)
    await store.renew_card(carded, NOW + 5 * LEASE)  # released: not revived
    assert await store.claim_card(carded, NOW + 1, LEASE)
