"""An undone delete never creates a second app: two replicas on one database (SQLite and
PostgreSQL) approving and recovering at once, a create whose answer was lost, and a worker
that died after the create (its app adopted) or before it could be told apart (unknown, and
no second create). The kill -9 of the real bot at the same points is tests/reliability's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr

from bot.core.models import Action, Outcome, Request, Status, Target
from bot.core.org import OrgDirectory
from bot.core.ports import RequestStore
from bot.core.workflow import Workflow
from bot.errors import Conflict
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sfvopi import AppFields, SfvopiClient
from bot.store import Store
from tests.support.database import StoreFactory
from tests.support.undo import ACME_KEY, ran
from tests.support.workflow import Clock

APP = "sfv_app_def789ghi012"
NUMBERS = ["+918000000003", "+918000000004"]


@pytest.fixture
def workflow_store(store: Store) -> RequestStore:
    return store


def creates(emulator: Emulator) -> int:
    return sum(n for (action, *_), n in emulator.effective.items() if action == "create")


def named(emulator: Emulator, name: str) -> list[str]:
    return [a for a in emulator.apps(ACME_KEY) if emulator.app(ACME_KEY, a)["name"] == name]


async def undo_filed(workflow: Workflow) -> int:
    """APP deleted (the bot reading its pre-image first), and its undo filed, pending."""
    both = ("U0BOB", "U0CAROL")
    deleted = await ran(workflow, Action.DELETE, [Target(APP)], both)
    return (await workflow.undo(deleted, requester="U0ALICE")).id


@pytest.fixture
def real_time(clock: Clock) -> Clock:
    """SFVoPI stamps apps with its own (real) clock: an adopted app is found by that time."""
    clock.now = time.time()
    return clock


Dead = Callable[..., Awaitable[tuple[int, Request]]]


@pytest.fixture
def dead(
    workflow: Workflow, workflow_store: RequestStore, client: SfvopiClient, real_time: Clock
) -> Dead:
    """An undo claimed by a worker that recorded its create attempt, did `then` (given the
    undo and the claim), and died; its lease lapsed and a sweep recovered it: the undo's id
    and the request recovered."""

    async def dead(then: Callable[[int, str], Awaitable[object]] | None) -> tuple[int, Request]:
        undo = await undo_filed(workflow)
        result = await workflow.add_approval(undo, approver="U0BOB")
        assert result.claim is not None
        now = real_time.now
        await workflow_store.attempt_create(undo, 0, result.claim, now, now + 60)
        if then is not None:
            await then(undo, result.claim)
        real_time.now += 120  # its lease lapses
        (recovered,) = await workflow.recover()
        return undo, recovered

    return dead


async def test_two_replicas_run_an_undo_once(
    store_factory: StoreFactory,
    client: SfvopiClient,
    orgs: OrgDirectory,
    emulator: Emulator,
    real_time: Clock,
) -> None:
    name = emulator.app(ACME_KEY, APP)["name"]
    stores = [await store_factory.open(), await store_factory.open()]
    replicas = [Workflow(s, orgs, client, clock=real_time) for s in stores]
    undo = await undo_filed(replicas[0])
    outcomes = await asyncio.gather(
        *(
            replicas[i % 2].approve(undo, approver=who)
            for i, who in enumerate(["U0BOB", "U0CAROL", "U0DAVE", "U0BOB", "U0CAROL", "U0DAVE"])
        ),
        return_exceptions=True,
    )
    assert all(not isinstance(o, Exception) or isinstance(o, Conflict) for o in outcomes)
    assert creates(emulator) == 1
    (new_app,) = named(emulator, name)
    assert emulator.snapshot()["acme"][new_app] == NUMBERS
    done = await replicas[1].status(undo, user="U0BOB")
    assert done.status is Status.SUCCEEDED and done.targets[0].new_app_id == new_app


async def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(
    workflow: Workflow,
    workflow_store: RequestStore,
    client: SfvopiClient,
    emulator: Emulator,
    real_time: Clock,
) -> None:
    name = emulator.app(ACME_KEY, APP)["name"]
    undo = await undo_filed(workflow)
    emulator.script(ApiFault.APPLY_THEN_DROP, match="/sfvopi/apps")
    done = await workflow.approve(undo, approver="U0BOB")
    assert done.status is Status.SUCCEEDED, done.targets
    (new_app,) = named(emulator, name)
    assert creates(emulator) == 1 and done.targets[0].new_app_id == new_app
    assert emulator.snapshot()["acme"][new_app] == NUMBERS


async def test_a_worker_dead_after_the_create_has_its_app_adopted(
    dead: Dead, workflow_store: RequestStore, client: SfvopiClient, emulator: Emulator
) -> None:
    fields = AppFields.parse(emulator.app(ACME_KEY, APP))
    # the dead worker: it recorded the attempt, created the app, and died before recording it
    undo, recovered = await dead(
        lambda _undo, _claim: client.create_app(SecretStr(ACME_KEY), fields)
    )
    assert recovered.status is Status.SUCCEEDED, recovered.targets
    (new_app,) = named(emulator, fields.name)
    assert creates(emulator) == 1 and recovered.targets[0].new_app_id == new_app
    assert emulator.snapshot()["acme"][new_app] == NUMBERS
    kinds = [e.kind for e in await workflow_store.events(undo)]
    assert kinds.count("recreated") == 1 and kinds.count("reclaimed") == 1


async def test_an_attempt_that_cannot_be_established_is_unknown_never_repeated(
    dead: Dead, emulator: Emulator
) -> None:
    _undo, recovered = await dead(None)
    assert creates(emulator) == 0
    app = recovered.targets[0]
    assert recovered.status is Status.FAILED and app.outcome is Outcome.UNKNOWN
    assert "may or may not have created the app" in (app.message or "")
    assert all(t.outcome is Outcome.FAILED for t in recovered.targets[1:])
    assert "was not recreated" in (recovered.targets[1].message or "")


async def test_a_worker_dead_after_recording_the_app_links_its_numbers(
    dead: Dead, workflow_store: RequestStore, client: SfvopiClient, emulator: Emulator
) -> None:
    fields = AppFields.parse(emulator.app(ACME_KEY, APP))
    made: list[str] = []

    async def created_and_recorded(undo: int, claim: str) -> None:
        created = await client.create_app(SecretStr(ACME_KEY), fields)
        made.append(created.app.app_id)  # type: ignore[union-attr]
        now = time.time()
        await workflow_store.record_new_app(
            undo, 0, claim, app_id=made[0], now=now, lease_until=now
        )

    _undo, recovered = await dead(created_and_recorded)
    new_app = made[0]
    assert recovered.status is Status.SUCCEEDED, recovered.targets
    assert creates(emulator) == 1 and recovered.targets[0].new_app_id == new_app
    assert emulator.snapshot()["acme"][new_app] == NUMBERS
