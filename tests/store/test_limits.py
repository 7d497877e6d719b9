"""The policy's limits as every store counts them (SQLite, PostgreSQL, the in-memory store the
rule tests use): what is counted (every request in the window, whatever its state; per
requester or per org; by action), what a replay of a dedupe key gets, the `requested` event's
record; and, where only a database shows it, two stores racing for the last slot."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.core.limits import Limit, LimitCheck, Per
from bot.core.models import Action, NewRequest, Status, Target
from bot.core.ports import RequestStore
from bot.errors import OverLimit
from tests.support.database import StoreFactory
from tests.support.filing import NOW

HOUR = 3600
PER_ALICE = Limit(1, Per.REQUESTER, 3, HOUR, actions=frozenset({Action.UNLINK}))
PER_ORG = Limit(2, Per.ORG, 2, HOUR, requests=True)


def numbers(first: int, count: int) -> list[Target]:
    return [Target("sfv_app_abc123xyz456", f"+9180000{first + i:05d}") for i in range(count)]


async def file(
    store: RequestStore,
    targets: Sequence[Target],
    *,
    limits: Sequence[Limit] = (PER_ALICE,),
    requester: str = "U0ALICE",
    org: str = "acme",
    now: float = NOW,
    key: str | None = None,
) -> int:
    action = Action.UNLINK if targets[0].number else Action.DELETE
    applying = tuple(limit for limit in limits if limit.applies(action))
    request, _ = await store.create_request(
        NewRequest(
            org=org,
            action=action,
            requester=requester,
            reason="cleanup",
            targets=list(targets),
            now=now,
            expires_at=now + HOUR,
            dedupe_key=key,
        ),
        approvals_needed=1,
        limits=LimitCheck(applying, requester, len(targets), now) if applying else None,
    )
    return request.id


async def test_targets_count_per_requester_in_the_window(request_store: RequestStore) -> None:
    store = request_store
    first = await file(store, numbers(0, 2), now=NOW - HOUR - 60)  # out of the window
    await file(store, numbers(10, 2), now=NOW - 60)
    await file(store, numbers(20, 3), requester="U0BOB")  # Bob's count is his own
    await file(store, numbers(30, 3), org="globex")  # and another org's its own
    await file(store, [Target("sfv_app_abc123xyz456")])  # a delete is not an unlink
    with pytest.raises(
        OverLimit, match="3 targets unlinked per requester per hour; 2 used"
    ) as over:
        await file(store, numbers(40, 2))
    assert over.value.frees_at == NOW - 60 + HOUR
    last = await file(store, numbers(50, 1))
    events = await store.events(last)
    assert events[0].detail["limits"] == [
        {"index": 1, "name": None, "used": 2, "asked": 1, "most": 3, "per": "requester"}
        | {"within": HOUR}
    ]
    assert "limits" in (await store.events(first))[0].detail
    assert len(await store.list_requests(orgs=["acme"], limit=50)) == 5  # the refused: nothing


async def test_denied_cancelled_and_expired_requests_still_count(
    request_store: RequestStore,
) -> None:
    store = request_store
    for n, to in enumerate((Status.DENIED, Status.CANCELLED, Status.EXPIRED)):
        request_id = await file(store, numbers(n * 10, 1))
        await store.transition(request_id, to=to, actor="U0BOB", now=NOW, kind=to.value)
    with pytest.raises(OverLimit, match="3 used"):
        await file(store, numbers(90, 1))


async def test_an_org_limit_counts_requests_by_anyone(request_store: RequestStore) -> None:
    store = request_store
    await file(store, numbers(0, 7), limits=(PER_ORG,), requester="U0BOB")
    await file(store, [Target("sfv_app_abc123xyz456")], limits=(PER_ORG,))
    with pytest.raises(OverLimit, match="at most 2 requests in the org per hour; 2 used"):
        await file(store, numbers(20, 1), limits=(PER_ORG,), requester="U0CAROL")
    await file(store, numbers(20, 1), limits=(PER_ORG,), org="globex")


async def test_a_replay_of_the_key_returns_the_first_not_a_refusal(
    request_store: RequestStore,
) -> None:
    store = request_store
    first = await file(store, numbers(0, 3), key="cmd:1")
    assert await file(store, numbers(0, 3), key="cmd:1") == first
    with pytest.raises(OverLimit):
        await file(store, numbers(10, 1), key="cmd:2")


async def test_break_glass_counts_and_is_refused_alike(request_store: RequestStore) -> None:
    async def glass(targets: list[Target]) -> str | None:
        _, claim = await request_store.create_break_glass(
            NewRequest(
                org="acme",
                action=Action.UNLINK,
                requester="U0ALICE",
                reason="fraud",
                targets=targets,
                now=NOW,
                expires_at=NOW + HOUR,
            ),
            incident=None,
            review_due_at=NOW + HOUR,
            lease_seconds=30,
            limits=LimitCheck((PER_ALICE,), "U0ALICE", len(targets), NOW),
        )
        return claim

    assert await glass(numbers(0, 2)) is not None
    with pytest.raises(OverLimit, match="2 used"):
        await glass(numbers(10, 2))
    with pytest.raises(OverLimit, match="2 used"):
        await file(request_store, numbers(20, 2))
    assert len(await request_store.list_requests(orgs=["acme"])) == 1


async def test_stores_racing_for_the_last_slot_file_exactly_one(
    store_factory: StoreFactory,
) -> None:
    """Two replicas on one database, each filing at once with one slot left: the count is
    made inside the insert's transaction with the org's filings serialised, so one wins."""
    one, two = await store_factory.open(), await store_factory.open()
    await file(one, numbers(0, 2))
    for attempt in range(3):
        base = 100 * (attempt + 1)
        results = await asyncio.gather(
            *(file(s, numbers(base + 10 * i, 1)) for i, s in enumerate((one, two) * 3)),
            return_exceptions=True,
        )
        filed = [r for r in results if isinstance(r, int)]
        assert len(filed) == (1 if attempt == 0 else 0), results
        assert all(isinstance(r, int | OverLimit) for r in results), results
    listed = await two.list_requests(orgs=["acme"], limit=50)
    assert sum(len(r.targets) for r in listed) == 3


async def test_a_refusal_is_a_warning_in_the_log(
    store_factory: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A stolen account's flood shows in the log, not only in the answers it gets."""
    store = await store_factory.open()
    await file(store, numbers(0, 3))
    with caplog.at_level("WARNING", logger="bot.store.limits"), pytest.raises(OverLimit):
        await file(store, numbers(10, 1))
    (record,) = caplog.records
    assert record.getMessage().startswith("a limit refused a request by U0ALICE in acme: limit 1")
