"""Policy rules where the workflow decides (Python API, in-memory store): a rule's deny
refuses at filing and nothing is stored, a protected app needs its rule's approvers and
count, break-glass a rule forbids is refused, the decision is in the `requested` event, and a
reloaded file whose rule denies a pending request closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Status, Target
from bot.core.org import OrgsInForce
from bot.core.workflow import Workflow
from bot.core.workflow.explaining import lines
from bot.errors import NotAllowed
from tests.support.memory_store import MemoryStore
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.policy_orgs import DEV_APP, HOTLINE, HOTLINE_SAYS, PROD_APP, RULES_YAML


@pytest.fixture
def ruled(make_workflow: Callable[..., Workflow]) -> Workflow:
    return make_workflow(parse_orgs(RULES_YAML, ORG_ENV))


async def delete(workflow: Workflow, *apps: str, **kw: object) -> int:
    request = await workflow.request(
        requester="U0ALICE",
        action="delete",
        targets=list(apps),
        reason="decommission CHG-1",
        **kw,  # type: ignore[arg-type]
    )
    return request.id


async def test_a_deny_refuses_at_filing_and_nothing_is_stored(
    ruled: Workflow, memory_store: MemoryStore
) -> None:
    for glass in (None, ""):
        with pytest.raises(NotAllowed) as refused:
            await ruled.request(
                requester="U0ALICE",
                action="unlink",
                targets=[Target("sfv_app_abc123xyz456", "+918000000001"), HOTLINE],
                reason="cleanup",
                break_glass=glass,
            )
        assert refused.value.message == (
            f"{HOTLINE_SAYS} (rule 1 'hotlines', for +911800000001 on sfv_app_abc123xyz456)"
        )
    assert await memory_store.list_requests(orgs=["acme", "globex"]) == []


async def test_a_protected_app_needs_two_admins(ruled: Workflow) -> None:
    request_id = await delete(ruled, PROD_APP, DEV_APP)
    assert (await ruled.status(request_id, user="U0ALICE")).approvals_needed == 2
    with pytest.raises(NotAllowed) as refused:
        await ruled.approve(request_id, approver="U0BOB")
    assert refused.value.message == (
        "under rule 2 'prod apps', only admins may approve this request"
    )
    half = await ruled.approve(request_id, approver="U0DAVE")
    assert half.status is Status.PENDING and half.approvers == ("U0DAVE",)
    done = await ruled.approve(request_id, approver="U0ERIN")
    assert done.status.ran and done.approvers == ("U0DAVE", "U0ERIN")


async def test_a_rule_may_ask_fewer_approvals_than_the_action(ruled: Workflow) -> None:
    request_id = await delete(ruled, DEV_APP)
    done = await ruled.approve(request_id, approver="U0BOB")
    assert done.approvals_needed == 1 and done.status.ran


async def test_break_glass_a_rule_forbids_is_refused(
    ruled: Workflow, memory_store: MemoryStore
) -> None:
    with pytest.raises(NotAllowed) as refused:
        await delete(ruled, PROD_APP, break_glass="")
    assert "break-glass is forbidden for this request by rule 2 'prod apps'" in (
        refused.value.message
    )
    assert await memory_store.list_requests(orgs=["acme"]) == []
    done = await ruled.request(
        requester="U0ALICE", action="delete", targets=[DEV_APP], reason="x", break_glass=""
    )
    assert done.break_glass and done.status.ran


async def test_the_requested_event_records_the_rule(ruled: Workflow) -> None:
    request_id = await delete(ruled, PROD_APP)
    (requested, *_) = await ruled.events(request_id, user="U0ALICE")
    assert requested.detail["policy"] == {
        "rules": [{"index": 2, "name": "prod apps"}],
        "approvals": 2,
        "why": "rule 2 'prod apps' — 2 approvals from admins; no break-glass",
    }
    other = await ruled.request(requester="U0GINA", action="delete", targets=[DEV_APP], reason="y")
    (plain, *_) = await ruled.events(other.id, user="U0GINA")
    assert "policy" not in plain.detail  # globex has no rules: its events are as ever


async def test_explain_says_which_rule_and_why(ruled: Workflow) -> None:
    explained = await ruled.explain(user="U0VIC", action="delete", targets=[PROD_APP, "sfv_app_x1"])
    assert lines(explained.org, explained.ruled) == [
        "delete sfv_app_prod1, sfv_app_x1 in acme: rule 2 'prod apps' — 2 approvals from "
        "admins; no break-glass",
        "sfv_app_prod1: rule 2 'prod apps' (app matches 'sfv_app_prod*'): 2 approvals from "
        "admins, no break-glass",
        "sfv_app_x1: no rule selects it, so the delete policy applies (2 approvals)",
        "Break-glass: forbidden by rule 2 'prod apps'.",
    ]
    listed = await ruled.explain(user="U0VIC")
    assert lines(listed.org, listed.ruled)[1:] == [
        "rule 1 'hotlines': unlink; numbers '+911800*' → refused: \"hotlines stay: open a "
        'change instead"',
        "rule 2 'prod apps': apps 'sfv_app_prod*' → 2 approvals from admins, no break-glass",
        "rule 3 'dev apps': delete; apps 'sfv_app_dev*' → 1 approval",
        "Targets no rule selects: unlink 1 approval, delete 2 approvals, undo 1 approval.",
    ]
    with pytest.raises(NotAllowed):
        await ruled.explain(user="U0NOBODY", action="delete", targets=[PROD_APP])


async def test_an_admin_and_someone_else_two_approvers_are_not_enough(
    make_workflow: Callable[..., Workflow],
) -> None:
    """`requires: [{approvers: [admin]}, {approvers: [approver]}]`: two approvers without an
    admin never reach the quorum; an admin then completes it, filling the admin's place."""
    rule = (
        "        - {apps: ['sfv_app_core*'], requires: [{approvers: [admin]}, "
        "{approvers: [approver]}]}\n"
    )
    text = RULES_YAML.replace("    members:\n      U0ERIN", rule + "    members:\n      U0ERIN", 1)
    workflow = make_workflow(parse_orgs(text, ORG_ENV))
    request_id = await delete(workflow, "sfv_app_core1")
    await workflow.approve(request_id, approver="U0BOB")
    waiting = await workflow.approve(request_id, approver="U0CAROL")
    assert waiting.status is Status.PENDING and waiting.approvals_needed == 2
    done = await workflow.approve(request_id, approver="U0DAVE")
    assert done.status.ran


STAGED = (
    "        - {apps: ['sfv_app_core*'], requires_in_order: %s, requires: [{approvers: [admin]}, "
    "{approvers: [approver]}]}\n"
)


def staged(in_order: str) -> str:
    rule = STAGED % in_order
    return RULES_YAML.replace("    members:\n      U0ERIN", rule + "    members:\n      U0ERIN", 1)


async def test_in_order_an_approver_waits_for_the_admin_stage(
    make_workflow: Callable[..., Workflow],
) -> None:
    """Admins first, then an approver: Bob (approver) is refused while the admin stage
    waits, and told so; once Dave (admin) fills it, Bob's approval completes the quorum."""
    workflow = make_workflow(parse_orgs(staged("true"), ORG_ENV))
    request_id = await delete(workflow, "sfv_app_core1")
    with pytest.raises(NotAllowed) as refused:
        await workflow.approve(request_id, approver="U0BOB")
    assert str(refused.value).endswith(
        "this request's approvals go in order: admins approve first (stage 1 of 2): 0 of 1 so far"
    )
    waiting = await workflow.approve(request_id, approver="U0DAVE")
    assert waiting.status is Status.PENDING and waiting.approvers == ("U0DAVE",)
    done = await workflow.approve(request_id, approver="U0BOB")
    assert done.status.ran


async def test_a_reload_putting_requirements_in_order_keeps_an_approval_given(
    make_workflow: Callable[..., Workflow],
) -> None:
    """Bob approved under all-of; the file now says admins first: his approval stays and
    counts for the approver stage once an admin fills the first (Carol, another approver,
    is refused meanwhile)."""
    workflow = make_workflow(parse_orgs(staged("false"), ORG_ENV))
    request_id = await delete(workflow, "sfv_app_core1")
    await workflow.approve(request_id, approver="U0BOB")
    workflow.in_force.swap(parse_orgs(staged("true"), ORG_ENV))
    with pytest.raises(NotAllowed, match="admins approve first"):
        await workflow.approve(request_id, approver="U0CAROL")
    done = await workflow.approve(request_id, approver="U0DAVE")
    assert done.status.ran and done.approvers == ("U0BOB", "U0DAVE")


async def test_a_reload_whose_rule_denies_a_pending_request_closes_it_once(
    make_workflow: Callable[..., Workflow], memory_store: MemoryStore
) -> None:
    """A hotline unlink filed before the file said hotlines stay; the file is reloaded on two
    replicas (one store, as one database), whose sweeps race: it is denied by the bot in the
    rule's words, once, and every listener told once. Before: approvals refused until it
    expired."""
    in_force = OrgsInForce(parse_orgs(ORGS_YAML, ORG_ENV))
    replicas = [make_workflow(in_force), make_workflow(in_force)]
    told: list[Status] = []
    for replica in replicas:
        replica.subscribe(lambda request, _: told.append(request.status))
    filed = await replicas[0].request(
        requester="U0ALICE", action="unlink", targets=[HOTLINE], reason="cleanup"
    )
    other = await replicas[0].request(
        requester="U0ALICE",
        action="unlink",
        targets=[Target("sfv_app_abc123xyz456", "+918000000001")],
        reason="cleanup",
    )
    in_force.swap(parse_orgs(RULES_YAML, ORG_ENV))

    closed = await asyncio.gather(*(r.enforce_org_file() for r in replicas))

    assert [r.id for r in closed[0] + closed[1]] == [filed.id]
    request = await replicas[1].status(filed.id, user="U0ALICE")
    assert (request.status, request.decided_by) == (Status.DENIED, "bot")
    assert request.decision_note == (
        f"{HOTLINE_SAYS} (rule 1 'hotlines', for +911800000001 on sfv_app_abc123xyz456)"
    )
    assert [e.kind for e in await memory_store.events(filed.id)].count("denied") == 1
    assert told == [Status.PENDING, Status.PENDING, Status.DENIED]
    assert (await replicas[1].status(other.id, user="U0ALICE")).status is Status.PENDING
