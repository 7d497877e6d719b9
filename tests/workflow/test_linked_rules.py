"""Rules selecting by the numbers a delete would unlink, through the workflow's Python API
(memory store, the real emulator): the count comes from the preview read after filing; until
it is read an approval is refused (it could not be counted under the rule that applies); once
read, a stricter rule raises what the request needs before any approval counts, and a deny
rule closes it in the rule's words, whether the count came after filing or in a drift."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Status
from bot.core.workflow import Workflow
from bot.errors import Conflict
from bot.sandbox.emulator import Emulator
from tests.support.emulator import ACME_KEY
from tests.support.memory_store import MemoryStore
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.policy_orgs import LINKED_SAYS, with_linked_rules

THREE = ("+918100000001", "+918100000002", "+918100000003")
TWELVE = tuple(f"+9181000001{i:02d}" for i in range(12))


@pytest.fixture
def ruled(make_workflow: Callable[..., Workflow]) -> Workflow:
    return make_workflow(parse_orgs(with_linked_rules(ORGS_YAML), ORG_ENV))


async def delete(workflow: Workflow, emulator: Emulator, app: str, numbers: tuple[str, ...]) -> int:
    emulator.add_app(ACME_KEY, app, numbers)
    request = await workflow.request(
        requester="U0ALICE", action="delete", targets=[app], reason="decommission CHG-5"
    )
    return request.id


async def test_until_the_preview_is_read_an_approval_waits_then_the_stricter_rule_counts(
    ruled: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await delete(ruled, emulator, "sfv_app_wired000001", THREE)
    assert (await ruled.status(request_id, user="U0ALICE")).approvals_needed == 1
    with pytest.raises(Conflict) as waiting:
        await ruled.approve(request_id, approver="U0BOB")
    assert "still reading what this delete would unlink" in waiting.value.message
    assert (await memory_store.get(request_id)).approvals == ()  # type: ignore[union-attr]

    await ruled.binding.read_filed(request_id)
    request = await ruled.status(request_id, user="U0ALICE")
    assert request.linked_numbers == 3 and request.approvals_needed == 3
    (redecided,) = [
        e for e in await memory_store.events(request_id) if e.kind == "policy_redecided"
    ]
    assert redecided.detail["approvals"] == 3 and redecided.detail["linked_numbers"] == 3

    await ruled.approve(request_id, approver="U0BOB")
    two = await ruled.approve(request_id, approver="U0CAROL")
    assert two.status is Status.PENDING and emulator.has_app(ACME_KEY, "sfv_app_wired000001")
    three = await ruled.approve(request_id, approver="U0DAVE")
    assert three.status is Status.SUCCEEDED
    assert not emulator.has_app(ACME_KEY, "sfv_app_wired000001")


async def test_a_count_a_deny_rule_bounds_closes_the_request_in_its_words(
    ruled: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    request_id = await delete(ruled, emulator, "sfv_app_crowd000001", TWELVE)
    await ruled.binding.read_filed(request_id)
    request = await ruled.status(request_id, user="U0ALICE")
    assert request.status is Status.DENIED and request.decided_by == "bot"
    assert request.decision_note == (f"{LINKED_SAYS} (rule 1 'crowded', for sfv_app_crowd000001)")
    with pytest.raises(Conflict):
        await ruled.approve(request_id, approver="U0BOB")
    assert emulator.has_app(ACME_KEY, "sfv_app_crowd000001")


async def landing_during_the_click(workflow: Workflow, store: MemoryStore, request_id: int) -> None:
    """The preview lands right after the click read the request (count unknown) and before
    its approval is written: the read after the ack racing a quick approver."""
    latest, reading = store.latest_preview, []

    async def read_meanwhile(*args: object, **kw: object) -> object:
        if not reading:
            reading.append(True)
            await workflow.binding.read_filed(request_id)
        return await latest(*args, **kw)  # type: ignore[arg-type]

    store.latest_preview = read_meanwhile  # type: ignore[method-assign]


@pytest.mark.parametrize("stricter", ["wired", "crowded"])
async def test_an_approval_decided_before_the_count_landed_is_decided_again(
    ruled: Workflow, emulator: Emulator, memory_store: MemoryStore, stricter: str
) -> None:
    """Bob's click was checked with the count unknown (1 approval: his would run it); the
    store refuses to write it on that decision, and the rules applied again on the count
    decide: counted towards 3 (nothing runs), or refused as the request is denied."""
    numbers = THREE if stricter == "wired" else TWELVE
    request_id = await delete(ruled, emulator, f"sfv_app_{stricter}00009", numbers)
    await landing_during_the_click(ruled, memory_store, request_id)
    if stricter == "wired":
        after = await ruled.approve(request_id, approver="U0BOB")
        assert after.approvers == ("U0BOB",) and after.approvals_needed == 3
        assert after.status is Status.PENDING
        assert emulator.has_app(ACME_KEY, "sfv_app_wired00009")
        return
    with pytest.raises(Conflict) as refused:
        await ruled.approve(request_id, approver="U0BOB")
    assert "was denied" in refused.value.message
    request = await memory_store.get(request_id)
    assert request is not None and request.approvals == () and request.status is Status.DENIED


NINE = tuple(f"+9181000002{i:02d}" for i in range(9))
TENTH = "+918100000299"


async def drifting_to_ten(workflow: Workflow, emulator: Emulator, told: list[Status]) -> int:
    """A delete of an app with nine numbers ('wired': 3 approvals), its preview read, two of
    its three approvals given, and a tenth number linked behind the bot's back: the count a
    'crowded' deny bounds, known only when the read before the run finds it."""
    emulator.add_numbers(ACME_KEY, [TENTH])
    request_id = await delete(workflow, emulator, "sfv_app_wired00010", NINE)
    await workflow.binding.read_filed(request_id)
    await workflow.approve(request_id, approver="U0BOB")
    await workflow.approve(request_id, approver="U0CAROL")
    emulator.link_behind("acme", "sfv_app_wired00010", TENTH)
    workflow.subscribe(lambda request, _: told.append(request.status))
    return request_id


async def test_a_drift_to_a_count_a_deny_rule_bounds_closes_the_request_in_its_words(
    ruled: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    """Before: back at pending with approvals refused ('the policy in force now refuses this
    request') until it expired."""
    told: list[Status] = []
    request_id = await drifting_to_ten(ruled, emulator, told)

    closed = await ruled.approve(request_id, approver="U0DAVE")

    assert closed.status is Status.DENIED and closed.decided_by == "bot"
    assert closed.decision_note == (f"{LINKED_SAYS} (rule 1 'crowded', for sfv_app_wired00010)")
    assert emulator.has_app(ACME_KEY, "sfv_app_wired00010")
    kinds = [e.kind for e in await memory_store.events(request_id)]
    assert kinds[-2:] == ["drifted", "denied"] and kinds.count("denied") == 1
    stored = await memory_store.get(request_id)
    assert stored is not None and stored.linked_numbers == 10 and stored.approvals == ()
    # the drift, then the close: each told once (the card, the thread's line, the requester)
    assert told[-2:] == [Status.PENDING, Status.DENIED]
    assert (told.count(Status.PENDING), told.count(Status.DENIED)) == (1, 1)
    with pytest.raises(Conflict, match="was denied"):
        await ruled.approve(request_id, approver="U0BOB")


async def test_a_drift_left_pending_by_a_crash_is_closed_by_the_sweep(
    ruled: Workflow, emulator: Emulator, memory_store: MemoryStore
) -> None:
    """The drift committed (its count kept) and the replica died before closing it: the
    next sweep, on any replica, closes it once."""
    told: list[Status] = []
    request_id = await drifting_to_ten(ruled, emulator, told)
    refuse = ruled.deciding.refuse

    async def died(*args: object) -> None:
        raise RuntimeError("the replica died here")

    ruled.deciding.refuse = died  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await ruled.approve(request_id, approver="U0DAVE")
    ruled.deciding.refuse = refuse  # type: ignore[method-assign]
    left = await memory_store.get(request_id)
    assert left is not None and left.status is Status.PENDING and left.linked_numbers == 10

    await asyncio.gather(ruled.sweep(), ruled.sweep())

    request = await ruled.status(request_id, user="U0ALICE")
    assert request.status is Status.DENIED and request.decided_by == "bot"
    assert [e.kind for e in await memory_store.events(request_id)].count("denied") == 1
    assert told.count(Status.DENIED) == 1
