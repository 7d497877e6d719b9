"""The approval workflow's rules through its Python API, on the in-memory store (no database:
tests/store/test_request_store_contract.py holds it to the SQL store) and the real emulator.
What only a database guarantees (never twice, across replicas) is in test_never_twice.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Action, Outcome, Status, Target
from bot.core.workflow import Workflow
from bot.errors import AlreadyPending, Conflict, InvalidRequest, NotAllowed, RequestNotFound
from bot.sandbox.emulator import ApiFault, Emulator
from tests.support.workflow import Clock, unlink_request

# -- asking -----------------------------------------------------------------------------


async def test_a_target_already_pending_is_refused_unless_again(workflow: Workflow) -> None:
    first = await unlink_request(workflow)
    with pytest.raises(AlreadyPending, match=f"already pending as request #{first}") as caught:
        await unlink_request(workflow, "U0MULTI", org="acme")
    assert caught.value.request_id == first
    second = await unlink_request(workflow, again=True)
    assert second != first
    await workflow.cancel(first, user="U0ALICE")
    await workflow.cancel(second, user="U0ALICE")
    assert await unlink_request(workflow) not in (first, second)


async def test_a_replayed_command_is_the_same_request_not_a_duplicate(workflow: Workflow) -> None:
    first = await unlink_request(workflow, dedupe_key="slack:trigger-1")
    assert await unlink_request(workflow, dedupe_key="slack:trigger-1") == first


async def test_request_is_stored_pending_with_the_org_policy(
    workflow: Workflow, clock: Clock
) -> None:
    request = await workflow.request(
        requester="U0ALICE",
        action=Action.DELETE,
        targets=["sfv_app_abc123xyz456", "app_abc123"],
        reason="  decommission   INC-1 ",
        channel="C0OPS",
    )
    again = await workflow.status(request.id, user="U0VIC")
    assert again == request
    assert request.status is Status.PENDING
    assert request.org == "acme"
    assert request.approvals_needed == 2
    assert request.expires_at == clock.now + 60 * 60
    assert request.reason == "decommission INC-1"
    assert [str(t.target) for t in request.targets] == ["sfv_app_abc123xyz456", "app_abc123"]


@pytest.mark.parametrize(
    ("action", "targets", "reason", "says"),
    [
        ("unlink", [Target("sfv_app_abc123xyz456", "918000000001")], "r", "E.164"),
        ("unlink", [Target("sfv_app_abc123xyz456", "+91 8000")], "r", "E.164"),
        ("delete", ["sfv_app_../admin"], "r", "not an app id"),
        ("delete", ["app_x?y=1"], "r", "not an app id"),
        ("delete", ["sfv_app_abc123xyz456"], "   ", "reason is required"),
        ("delete", [], "r", "at least one target"),
        ("delete", [f"sfv_app_{i:012d}" for i in range(101)], "r", "too many targets"),
        ("delete", [Target("sfv_app_abc123xyz456", "+918000000001")], "r", "delete needs app"),
        ("purge", ["sfv_app_abc123xyz456"], "r", "unknown action"),
        ("delete", ["sfv_app_abc123xyz456"], "x" * 501, "too long"),
        ("delete", ["sfv_app_abc123xyz456"], "\u200b\u202e\u2066\ufeff", "reason is required"),
        ("delete", ["sfv_app_abc123xyz456"], "INC-1 \ud800", "reason contains characters"),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(
    workflow: Workflow, action: str, targets: list[object], reason: str, says: str
) -> None:
    with pytest.raises(InvalidRequest, match=says):
        await workflow.request(requester="U0ALICE", action=action, targets=targets, reason=reason)  # type: ignore[arg-type]
    assert await workflow.history(user="U0DAVE") == []


async def test_a_note_or_org_that_is_not_valid_text_changes_nothing(workflow: Workflow) -> None:
    request_id = await unlink_request(workflow)
    bad = "wrong DID \udfff"
    with pytest.raises(InvalidRequest, match="the reason contains characters that are not valid"):
        await workflow.deny(request_id, approver="U0BOB", note=bad)
    with pytest.raises(InvalidRequest, match="the reason contains characters that are not valid"):
        await workflow.cancel(request_id, user="U0ALICE", note=bad)
    with pytest.raises(InvalidRequest, match="the note contains characters that are not valid"):
        await workflow.approve(request_id, approver="U0BOB", note=bad)
    stored = await workflow.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING and not stored.approvals
    with pytest.raises(NotAllowed) as refused:
        await workflow.request(
            requester="U0ALICE", action="delete", targets=["app_x1"], reason="r", org="a\ud800"
        )
    assert "`a\ufffd`" in refused.value.message


async def test_duplicate_targets_are_kept_once(workflow: Workflow) -> None:
    request = await workflow.request(
        requester="U0ALICE", action="delete", targets=["app_abc123", "app_abc123"], reason="r"
    )
    assert len(request.targets) == 1


@pytest.mark.parametrize(
    ("user", "org", "error", "says"),
    [
        ("U0VIC", None, NotAllowed, "not a requester in any organization"),
        ("U0NOBODY", None, NotAllowed, "not a requester in any organization"),
        ("U0MULTI", None, InvalidRequest, r"several organizations \(acme, globex\)"),
        ("U0ALICE", "globex", NotAllowed, "not a member of an organization named `globex`"),
        ("U0VIC", "acme", NotAllowed, "you are a viewer in acme"),
    ],
)
async def test_who_may_ask(
    workflow: Workflow, user: str, org: str | None, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        await unlink_request(workflow, user, org=org)


async def test_a_member_of_several_orgs_names_one(workflow: Workflow) -> None:
    request_id = await unlink_request(workflow, "U0MULTI", org="acme")
    assert (await workflow.status(request_id, user="U0MULTI")).org == "acme"


async def test_requests_only_in_the_orgs_command_channels(workflow: Workflow) -> None:
    with pytest.raises(NotAllowed, match="only in <#C0OPS>"):
        await unlink_request(workflow, channel="C0RANDOM")
    assert await unlink_request(workflow, channel="C0OPS")


async def test_the_same_dedupe_key_files_one_request(workflow: Workflow) -> None:
    first = await unlink_request(workflow, dedupe_key="trigger-1")
    second = await unlink_request(workflow, dedupe_key="trigger-1")
    assert first == second
    assert len(await workflow.history(user="U0ALICE")) == 1


# -- approving --------------------------------------------------------------------------


async def test_approved_unlink_runs_once_and_records_everything(
    workflow: Workflow, emulator: Emulator
) -> None:
    request_id = await unlink_request(workflow)
    done = await workflow.approve(request_id, approver="U0BOB")
    assert done.status is Status.SUCCEEDED
    assert done.decided_by == "U0BOB"
    assert done.approvers == ("U0BOB",)
    assert done.targets[0].outcome is Outcome.DONE
    assert done.targets[0].status_code == 200
    assert "+918000000001" not in emulator.numbers("test-key-acme-not-real", "sfv_app_abc123xyz456")
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    kinds = [e.kind for e in await workflow.events(request_id, user="U0VIC")]
    assert kinds == ["requested", "approved", "claimed", "previewed", "api_result", "succeeded"]


async def test_self_approval_is_refused(workflow: Workflow) -> None:
    request_id = await unlink_request(workflow, "U0DAVE")
    with pytest.raises(NotAllowed, match="your own request"):
        await workflow.approve(request_id, approver="U0DAVE")
    assert (await workflow.status(request_id, user="U0DAVE")).approvals == ()


async def test_self_approval_when_the_policy_allows_it(
    make_workflow: Callable[..., Workflow], orgs_yaml: str, org_env: dict[str, str]
) -> None:
    relaxed = parse_orgs(orgs_yaml.replace("self_approval: false", "self_approval: true"), org_env)
    workflow = make_workflow(relaxed)
    request_id = await unlink_request(workflow, "U0DAVE")
    assert (await workflow.approve(request_id, approver="U0DAVE")).status is Status.SUCCEEDED


@pytest.mark.parametrize(
    ("clicker", "error", "says"),
    [
        ("U0VIC", NotAllowed, "needs the approver role in acme; you are a viewer"),
        ("U0MULTI", NotAllowed, "you are a requester"),
        ("U0GARY", RequestNotFound, "no request #"),
        ("U0NOBODY", RequestNotFound, "no request #"),
    ],
)
async def test_who_may_approve(
    workflow: Workflow, emulator: Emulator, clicker: str, error: type[Exception], says: str
) -> None:
    request_id = await unlink_request(workflow)
    with pytest.raises(error, match=says):
        await workflow.approve(request_id, approver=clicker)
    assert (await workflow.status(request_id, user="U0ALICE")).status is Status.PENDING
    assert not emulator.effective


async def test_an_admin_may_approve(workflow: Workflow) -> None:
    request_id = await unlink_request(workflow)
    assert (await workflow.approve(request_id, approver="U0DAVE")).status is Status.SUCCEEDED


async def test_forged_request_ids_are_not_found(workflow: Workflow) -> None:
    with pytest.raises(RequestNotFound):
        await workflow.approve(987654, approver="U0BOB")
    with pytest.raises(RequestNotFound):
        await workflow.status(987654, user="U0BOB")


async def test_delete_needs_two_distinct_approvers(workflow: Workflow, emulator: Emulator) -> None:
    request = await workflow.request(
        requester="U0ALICE", action="delete", targets=["sfv_app_abc123xyz456"], reason="r"
    )
    first = await workflow.add_approval(request.id, approver="U0BOB")
    assert (first.counted, first.claimed) == (True, False)
    again = await workflow.add_approval(request.id, approver="U0BOB")
    assert (again.counted, again.claimed) == (False, False)
    assert again.request.status is Status.PENDING
    assert again.request.approvers == ("U0BOB",)
    assert not emulator.effective
    done = await workflow.approve(request.id, approver="U0CAROL")
    assert done.status is Status.SUCCEEDED
    assert set(done.approvers) == {"U0BOB", "U0CAROL"}
    assert not emulator.has_app("test-key-acme-not-real", "sfv_app_abc123xyz456")


async def test_deny_ends_the_request(workflow: Workflow, emulator: Emulator) -> None:
    request_id = await unlink_request(workflow)
    denied = await workflow.deny(request_id, approver="U0BOB", note="wrong number")
    assert denied.status is Status.DENIED
    assert denied.decided_by == "U0BOB"
    with pytest.raises(Conflict, match="was denied"):
        await workflow.approve(request_id, approver="U0CAROL")
    assert not emulator.effective


async def test_the_requester_cannot_deny_but_can_cancel(workflow: Workflow) -> None:
    own = await unlink_request(workflow, "U0DAVE")
    with pytest.raises(NotAllowed, match="cancel it instead"):
        await workflow.deny(own, approver="U0DAVE")
    request_id = await unlink_request(workflow, again=True)
    with pytest.raises(NotAllowed, match="you are a requester"):
        await workflow.deny(request_id, approver="U0ALICE")
    with pytest.raises(NotAllowed, match="only the requester or an admin"):
        await workflow.cancel(request_id, user="U0BOB")
    assert (await workflow.cancel(request_id, user="U0ALICE")).status is Status.CANCELLED
    with pytest.raises(Conflict, match="was cancelled"):
        await workflow.cancel(request_id, user="U0ALICE")


async def test_an_admin_can_cancel(workflow: Workflow) -> None:
    request_id = await unlink_request(workflow)
    assert (await workflow.cancel(request_id, user="U0DAVE")).status is Status.CANCELLED


async def test_requests_expire_after_their_time_to_live(workflow: Workflow, clock: Clock) -> None:
    first = await unlink_request(workflow)
    clock.now += 30 * 60
    second = await unlink_request(workflow, again=True)
    clock.now += 31 * 60
    expired = await workflow.expire_due()
    assert [r.id for r in expired] == [first]
    assert await workflow.expire_due() == []
    with pytest.raises(Conflict, match="has expired"):
        await workflow.approve(first, approver="U0BOB")
    clock.now += 30 * 60
    with pytest.raises(Conflict, match="expired"):
        await workflow.approve(second, approver="U0BOB")
    assert (await workflow.status(second, user="U0BOB")).status is Status.EXPIRED


async def test_an_approval_racing_the_expiry_is_refused_in_the_same_transaction(
    workflow: Workflow, clock: Clock, emulator: Emulator
) -> None:
    request_id = await unlink_request(workflow)
    late = clock.now + 60 * 60
    record = await workflow.store.approve(request_id, approver="U0BOB", now=late, lease_seconds=5)
    assert (record.refused, record.counted, record.claim) == (Status.EXPIRED, False, None)
    stored = await workflow.status(request_id, user="U0BOB")
    assert (stored.status, stored.approvals) == (Status.EXPIRED, ())
    assert not emulator.calls


async def test_pending_and_history_show_only_the_users_orgs(workflow: Workflow) -> None:
    mine = await unlink_request(workflow)
    theirs = await workflow.request(
        requester="U0GINA", action="delete", targets=["sfv_app_globex000001"], reason="r"
    )
    assert [r.id for r in await workflow.pending(user="U0VIC")] == [mine]
    assert [r.id for r in await workflow.pending(user="U0GARY")] == [theirs.id]
    assert {r.id for r in await workflow.history(user="U0MULTI")} == {mine, theirs.id}
    assert [r.id for r in await workflow.history(user="U0MULTI", org="globex")] == [theirs.id]
    with pytest.raises(NotAllowed):
        await workflow.history(user="U0NOBODY")


# -- what the API answered --------------------------------------------------------------


async def test_api_errors_are_recorded_with_the_apis_message(workflow: Workflow) -> None:
    request = await workflow.request(
        requester="U0ALICE",
        action="unlink",
        targets=[Target("app_abc123", "+918000000002")],
        reason="r",
    )
    done = await workflow.approve(request.id, approver="U0BOB")
    assert done.status is Status.FAILED
    assert done.targets[0].outcome is Outcome.FAILED
    assert done.targets[0].status_code == 404
    assert done.targets[0].message == "Number not linked to this app"


async def test_bulk_delete_keeps_a_result_per_target(
    workflow: Workflow, emulator: Emulator
) -> None:
    emulator.script(*[ApiFault.SERVER_ERROR] * 3, match="/apps/app_abc123", method="DELETE")
    request = await workflow.request(
        requester="U0ALICE",
        action="delete",
        targets=["sfv_app_abc123xyz456", "sfv_app_missing00001", "app_abc123"],
        reason="cleanup",
    )
    await workflow.add_approval(request.id, approver="U0BOB")
    done = await workflow.approve(request.id, approver="U0CAROL")
    assert done.status is Status.FAILED
    results = {str(t.target): (t.outcome, t.status_code, t.message) for t in done.targets}
    assert results["sfv_app_abc123xyz456"] == (Outcome.DONE, 200, "success")
    assert results["sfv_app_missing00001"] == (Outcome.FAILED, 404, "SFVoPI app not found")
    outcome, code, message = results["app_abc123"]
    assert (outcome, code) == (Outcome.FAILED, 500)
    assert "3 tries" in str(message)


async def test_the_wrong_key_is_reported_without_the_key(
    make_workflow: Callable[..., Workflow], orgs_yaml: str, org_env: dict[str, str]
) -> None:
    env = {**org_env, "SFVOPI_API_KEY_ACME": "test-key-revoked-not-real"}
    workflow = make_workflow(parse_orgs(orgs_yaml, env))
    request_id = await unlink_request(workflow)
    done = await workflow.approve(request_id, approver="U0BOB")
    assert done.status is Status.FAILED
    assert done.targets[0].status_code == 401
    assert "401" in str(done.targets[0].message)
    assert "revoked" not in repr(done) + repr(await workflow.events(request_id, user="U0BOB"))


def test_the_readme_python_example_runs() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "examples/python_api.py"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "request #1: succeeded; +918000000001 on app_abc123: success" in out.stdout


async def test_pending_lists_at_most_its_limit_and_counts_them_all(workflow: Workflow) -> None:
    for _ in range(4):
        await unlink_request(workflow, again=True)
    assert len(await workflow.pending(user="U0VIC", limit=3)) == 3
    assert await workflow.pending_count(user="U0VIC") == 4
    assert await workflow.pending_count(user="U0GARY") == 0
