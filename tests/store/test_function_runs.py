"""The store decides who completes a Workflow Builder step: a run is taken in once per
execution, claimed by one completer at a time (a crashed one's lease lapses), completed once
(its token dropped, a `step_completed` event on its request), and found again after a crash
cut its filing short."""

from __future__ import annotations

import asyncio

from bot.core.models import Action, NewRequest, Status, Target
from bot.store import Store
from bot.store.function_runs import dedupe_key
from tests.support.database import StoreFactory

NOW = 1_700_000_000.0
LEASE = 30.0
SEALED = "gAAAA-sealed-token-not-real"


async def file(store: Store, key: str | None = None) -> int:
    request, _ = await store.create_request(
        NewRequest(
            org="acme",
            action=Action.DELETE,
            requester="U0ALICE",
            reason="decommission",
            targets=[Target("sfv_app_abc123xyz456")],
            now=NOW,
            expires_at=NOW + 3600,
            dedupe_key=key,
        ),
        approvals_needed=1,
    )
    return request.id


async def test_a_run_is_taken_in_once_and_claimed_by_one_of_two_stores(
    store_factory: StoreFactory,
) -> None:
    one, two = await store_factory.open(), await store_factory.open()
    added = await asyncio.gather(
        *(s.add_function_run("Fx0RUN1", "delete_apps", SEALED, NOW) for s in (one, two))
    )
    assert sorted(added) == [False, True]
    await one.settle_function_run("Fx0RUN1", error="could not file the request: no")
    claims = await asyncio.gather(
        *(s.claim_function_run("Fx0RUN1", NOW, LEASE) for s in (one, two) * 3)
    )
    assert sorted(claims) == [False] * 5 + [True]
    assert not await one.claim_function_run("Fx0RUN1", NOW + LEASE - 1, LEASE)
    assert await two.claim_function_run("Fx0RUN1", NOW + LEASE + 1, LEASE)  # lease lapsed


async def test_a_run_is_due_once_its_request_is_final_and_completed_once(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory.open()
    request_id = await file(store, dedupe_key("Fx0RUN2"))
    await store.add_function_run("Fx0RUN2", "delete_apps", SEALED, NOW)
    await store.settle_function_run("Fx0RUN2", request_id=request_id)
    assert await store.function_runs_due(NOW + 1, filing_grace=LEASE) == []
    assert await store.function_runs_of(request_id) == ["Fx0RUN2"]

    await store.transition(request_id, to=Status.DENIED, actor="U0BOB", now=NOW, kind="denied")
    assert await store.function_runs_due(NOW + 1, filing_grace=LEASE) == ["Fx0RUN2"]
    assert await store.claim_function_run("Fx0RUN2", NOW + 1, LEASE)
    assert await store.function_runs_due(NOW + 2, filing_grace=LEASE) == []  # leased

    assert await store.complete_function_run("Fx0RUN2", "error", NOW + 2, {"state": "denied"})
    assert not await store.complete_function_run("Fx0RUN2", "error", NOW + 3, {})
    run = await store.function_run("Fx0RUN2")
    assert run is not None and run.sealed_token is None and run.outcome == "error"
    assert await store.function_runs_due(NOW + 999, filing_grace=LEASE) == []
    assert await store.function_runs_of(request_id) == []
    steps = [e.detail for e in await store.events(request_id) if e.kind == "step_completed"]
    assert steps == [{"execution": "Fx0RUN2", "outcome": "error", "state": "denied"}]


async def test_a_refusal_noted_waits_its_back_off(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    await store.add_function_run("Fx0RUN3", "unlink_numbers", None, NOW)
    await store.settle_function_run("Fx0RUN3", error="could not file the request: no")
    assert await store.claim_function_run("Fx0RUN3", NOW, LEASE)
    assert await store.note_function_problem("Fx0RUN3", "internal_error", NOW, 60.0) == 1
    assert await store.function_runs_due(NOW + 59, filing_grace=LEASE) == []
    assert await store.function_runs_due(NOW + 61, filing_grace=LEASE) == ["Fx0RUN3"]


async def test_a_filing_cut_short_is_found_by_its_dedupe_key(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    await store.add_function_run("Fx0RUN4", "delete_apps", SEALED, NOW)
    await store.add_function_run("Fx0RUN5", "delete_apps", SEALED, NOW)
    request_id = await file(store, dedupe_key("Fx0RUN4"))  # filed, then the bot died
    assert await store.function_runs_due(NOW + 1, filing_grace=LEASE) == []  # still filing?
    due = await store.function_runs_due(NOW + LEASE + 1, filing_grace=LEASE)
    assert sorted(due) == ["Fx0RUN4", "Fx0RUN5"]
    assert await store.function_run_request("Fx0RUN4") == request_id
    assert await store.function_run_request("Fx0RUN5") is None
    run = await store.function_run("Fx0RUN4")
    assert run is not None and run.request_id == request_id
