"""Undo through the Python API against the real emulator (over loopback): an unlink undone
links its numbers back; a delete undone recreates the app (a new app_id) from its pre-image and
links its numbers to it; a number linked elsewhere meanwhile is refused for itself alone; and
every refusal (window over, not run, already undone, no pre-image, another org's request, the
requester approving their own undo)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.audit.export import record
from bot.audit.verify import verify
from bot.config.orgfile import parse_orgs
from bot.core.models import Action, Outcome, Status, Target
from bot.core.ports import RequestStore
from bot.core.workflow import Workflow
from bot.errors import Conflict, NotAllowed, RequestNotFound
from bot.sandbox.emulator import ApiFault, Emulator
from bot.store import Store
from tests.support.undo import ACME_KEY, ran
from tests.support.workflow import Clock

APP = "sfv_app_def789ghi012"
NUMBERS = ("+918000000003", "+918000000004")
DELETED = APP


@pytest.fixture
def workflow_store(request_store: RequestStore) -> RequestStore:
    """Each test on SQLite, PostgreSQL and the memory store: the undone event and the undo
    facts a card reads are the store's."""
    return request_store


Run = Callable[..., Awaitable[int]]


@pytest.fixture
def run(workflow: Workflow) -> Run:
    """Runs a request of U0ALICE's on `on` (the workflow)."""

    async def run(
        action: Action,
        targets: list[Target],
        approvers: tuple[str, ...] = ("U0BOB",),
        on: Workflow | None = None,
    ) -> int:
        return await ran(on or workflow, action, targets, approvers)

    return run


async def test_an_unlink_undone_links_its_numbers_back(
    workflow: Workflow,
    workflow_store: RequestStore,
    run: Run,
    clock: Clock,
    emulator: Emulator,
) -> None:
    targets = [Target(APP, n) for n in NUMBERS]
    original = await run(Action.UNLINK, targets)
    assert emulator.snapshot()["acme"][APP] == []
    clock.now += 3600
    undo = await workflow.undo(original, requester="U0ALICE", reason="wrong app")
    assert (undo.action, undo.undoes, undo.status) == (Action.UNDO, original, Status.PENDING)
    assert undo.reason == f"undo of request #{original}: wrong app"
    assert {t.target for t in undo.targets} == set(targets)
    with pytest.raises(Conflict, match="being undone by request"):
        await workflow.undo(original, requester="U0ALICE")
    done = await workflow.approve(undo.id, approver="U0CAROL")
    assert done.status is Status.SUCCEEDED, done.targets
    assert emulator.snapshot()["acme"][APP] == sorted(NUMBERS)
    assert emulator.snapshot()["acme"]["app_abc123"] == ["+918000000001"]
    kinds = [e.kind for e in await workflow_store.events(original)]
    assert kinds[-1] == "undone"
    again = await workflow_store.get(original)
    assert again is not None and again.undo == (undo.id, Status.SUCCEEDED)
    with pytest.raises(Conflict, match="already undone"):
        await workflow.undo(original, requester="U0ALICE")
    with pytest.raises(Conflict, match="itself an undo"):
        await workflow.undo(undo.id, requester="U0ALICE")
    if isinstance(workflow_store, Store):  # the chained log holds, and exports the undo
        assert (await verify(workflow_store)).intact
        exported = [record(e) for e in await workflow_store.audit_events()]
        (undone,) = [r for r in exported if r["kind"] == "undone"]
        assert (undone["request"], undone["action"]) == (original, "unlink")
        assert any(r["action"] == "undo" and r["request"] == undo.id for r in exported)


async def test_a_delete_undone_recreates_the_app_with_a_new_id_and_its_numbers(
    workflow: Workflow,
    workflow_store: RequestStore,
    run: Run,
    clock: Clock,
    emulator: Emulator,
) -> None:
    before = emulator.app(ACME_KEY, DELETED)
    original = await run(
        Action.DELETE,
        [Target(DELETED)],
        approvers=("U0BOB", "U0CAROL"),
    )
    assert DELETED not in emulator.apps(ACME_KEY)
    undo = await workflow.undo(original, requester="U0ALICE")
    assert [str(t.target) for t in undo.targets] == [
        DELETED,
        f"+918000000003 on {DELETED}",
        f"+918000000004 on {DELETED}",
    ]
    done = await workflow.approve(undo.id, approver="U0BOB")
    assert done.status is Status.SUCCEEDED, done.targets
    new_id = done.targets[0].new_app_id
    assert new_id is not None and new_id != DELETED
    assert f"recreated as {new_id}" in (done.targets[0].message or "")
    recreated = emulator.app(ACME_KEY, new_id)
    for field in ("name", "answer_url", "answer_method"):
        assert recreated[field] == before[field]
    assert emulator.snapshot()["acme"][new_id] == ["+918000000003", "+918000000004"]
    named = [
        a for a in emulator.apps(ACME_KEY) if emulator.app(ACME_KEY, a)["name"] == before["name"]
    ]
    assert named == [new_id]


async def test_a_number_linked_elsewhere_meanwhile_is_refused_for_itself_alone(
    workflow: Workflow,
    workflow_store: RequestStore,
    run: Run,
    clock: Clock,
    emulator: Emulator,
) -> None:
    targets = [Target(APP, n) for n in NUMBERS]
    original = await run(Action.UNLINK, targets)
    emulator.link_behind("acme", "sfv_app_empty0000001", NUMBERS[1])
    undo = await workflow.undo(original, requester="U0DAVE")
    done = await workflow.approve(undo.id, approver="U0BOB")
    assert done.status is Status.FAILED
    by_number = {t.target.number: t for t in done.targets}
    assert by_number[NUMBERS[0]].outcome is Outcome.DONE
    refused = by_number[NUMBERS[1]]
    assert (refused.outcome, refused.status_code) == (Outcome.FAILED, 409)
    assert "already linked to another SFVoPI app" in (refused.message or "")
    state = emulator.snapshot()["acme"]
    assert state[APP] == [NUMBERS[0]] and state["sfv_app_empty0000001"] == [NUMBERS[1]]


async def test_a_number_already_back_on_its_app_counts_as_done(
    workflow: Workflow,
    workflow_store: RequestStore,
    run: Run,
    clock: Clock,
    emulator: Emulator,
) -> None:
    targets = [Target(APP, NUMBERS[0])]
    original = await run(Action.UNLINK, targets)
    emulator.link_behind("acme", APP, NUMBERS[0])
    undo = await workflow.undo(original, requester="U0ALICE")
    done = await workflow.approve(undo.id, approver="U0BOB")
    assert done.status is Status.SUCCEEDED
    assert done.targets[0].outcome is Outcome.DONE


async def test_refusals_name_why(
    workflow: Workflow,
    workflow_store: RequestStore,
    run: Run,
    clock: Clock,
) -> None:
    targets = [Target(APP, NUMBERS[0])]
    original = await run(Action.UNLINK, targets)
    with pytest.raises(RequestNotFound):  # globex's requester: as a missing request
        await workflow.undo(original, requester="U0GINA")
    with pytest.raises(RequestNotFound):
        await workflow.undo(999, requester="U0ALICE")
    with pytest.raises(NotAllowed, match="viewer"):
        await workflow.undo(original, requester="U0VIC")
    pending = await workflow.request(
        requester="U0ALICE", action="unlink", targets=[Target(APP, NUMBERS[1])], reason="x"
    )
    with pytest.raises(Conflict, match="only a request that ran"):
        await workflow.undo(pending.id, requester="U0ALICE")
    undo = await workflow.undo(original, requester="U0BOB")  # an approver asks for it
    with pytest.raises(NotAllowed, match="cannot approve your own request"):
        await workflow.approve(undo.id, approver="U0BOB")
    await workflow.cancel(undo.id, user="U0BOB", note="not now")
    clock.now += 24 * 3600 + 1
    with pytest.raises(Conflict, match=r"undo window \(24 h\) closed"):
        await workflow.undo(original, requester="U0ALICE")


async def test_no_pre_image_no_undo(
    workflow: Workflow, workflow_store: RequestStore, emulator: Emulator
) -> None:
    """SFVoPI unreadable right before the run: it runs, without a pre-image, so no undo."""
    filed = await workflow.request(
        requester="U0ALICE", action="unlink", targets=[Target(APP, NUMBERS[0])], reason="x"
    )
    emulator.script(*[ApiFault.SERVER_ERROR] * 3, match=f"/{APP}/numbers")
    done = await workflow.approve(filed.id, approver="U0BOB")
    assert done.status is Status.SUCCEEDED
    found = await workflow_store.get(filed.id)
    assert found is not None and found.pre_image is False
    with pytest.raises(Conflict, match="no pre-image was recorded"):
        await workflow.undo(filed.id, requester="U0ALICE")


Policy = Callable[[str], Workflow]


@pytest.fixture
def with_policy(
    make_workflow: Callable[..., Workflow], orgs_yaml: str, org_env: dict[str, str]
) -> Policy:
    """A workflow whose org acme's policy also says `line` (after `self_approval`)."""

    def with_policy(line: str) -> Workflow:
        said = "      self_approval: false\n"
        text = orgs_yaml.replace(said, f"{said}      {line}\n", 1)
        return make_workflow(parse_orgs(text, org_env, source="test"))

    return with_policy


async def test_the_policy_sets_the_approvals_and_the_window(
    with_policy: Policy, run: Run, clock: Clock
) -> None:
    workflow = with_policy("undo: {approvals: 2, window_hours: 1}")
    original = await run(Action.UNLINK, [Target(APP, NUMBERS[0])], on=workflow)
    undo = await workflow.undo(original, requester="U0ALICE")
    assert undo.approvals_needed == 2
    await workflow.cancel(undo.id, user="U0ALICE", note="later")
    clock.now += 3600
    with pytest.raises(Conflict, match=r"\(1 h\) closed"):
        await workflow.undo(original, requester="U0ALICE")


async def test_break_glass_rules_apply_to_an_undo(
    with_policy: Policy, run: Run, emulator: Emulator
) -> None:
    workflow = with_policy("break_glass: {roles: [admin]}")
    original = await run(Action.UNLINK, [Target(APP, n) for n in NUMBERS], on=workflow)
    with pytest.raises(NotAllowed, match="break-glass in acme is only for: admin"):
        await workflow.undo(original, requester="U0ALICE", break_glass="INC-4411")
    done = await workflow.undo(original, requester="U0DAVE", break_glass="INC-4411")
    assert (done.status, done.break_glass, done.incident) == (
        Status.SUCCEEDED,
        True,
        "INC-4411",
    )
    assert emulator.snapshot()["acme"][APP] == sorted(NUMBERS)
