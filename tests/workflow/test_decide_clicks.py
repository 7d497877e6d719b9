"""A click on Approve or Deny only asks for the form that confirms it, and only of whoever may
decide; whatever would refuse the approval is said at the click, and said again on submission."""

from __future__ import annotations

from collections.abc import Callable

from bot.config.orgfile import parse_orgs
from bot.core.models import Status
from bot.core.org import Need, OrgDirectory, OrgsInForce
from bot.core.workflow import Decision, Workflow
from bot.errors import Conflict, NotAllowed
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.workflow import unlink_request


async def test_an_approve_click_asks_for_the_form_and_its_submission_approves(
    workflow: Workflow,
) -> None:
    request_id = await unlink_request(workflow)
    asked = await workflow.decide(request_id, user="U0BOB", decision=Decision.APPROVE)
    assert asked.need is Need.NONE and asked.refusal is None and asked.claim is None
    assert not asked.counted and asked.request is not None
    assert (await workflow.status(request_id, user="U0BOB")).approvals == ()

    approved = await workflow.decide(request_id, user="U0BOB", decision=Decision.APPROVE, text="")
    assert approved.counted and approved.claim is not None


async def test_whoever_may_not_approve_is_refused_at_the_click(workflow: Workflow) -> None:
    request_id = await unlink_request(workflow)
    for user, refusal in (("U0ALICE", NotAllowed), ("U0VIC", NotAllowed)):
        outcome = await workflow.decide(request_id, user=user, decision=Decision.APPROVE)
        assert outcome.need is None and isinstance(outcome.refusal, refusal), user


async def test_an_approval_given_already_is_refused_at_the_click(workflow: Workflow) -> None:
    request = await workflow.request(
        requester="U0ALICE", action="delete", targets=["sfv_app_abc123xyz456"], reason="r"
    )
    await workflow.decide(request.id, user="U0BOB", decision=Decision.APPROVE, text="")
    again = await workflow.decide(request.id, user="U0BOB", decision=Decision.APPROVE)
    assert again.need is None and isinstance(again.refusal, Conflict)
    assert "already approved" in again.refusal.message


async def test_a_requester_who_lost_the_role_is_found_at_the_click(
    make_workflow: Callable[..., Workflow], orgs: OrgDirectory
) -> None:
    in_force = OrgsInForce(orgs)
    workflow = make_workflow(in_force)
    request_id = await unlink_request(workflow)
    gone = ORGS_YAML.replace("U0ALICE: requester", "U0ALICE: viewer")
    in_force.swap(parse_orgs(gone, dict(ORG_ENV)))  # no sweep has run since
    outcome = await workflow.decide(request_id, user="U0BOB", decision=Decision.APPROVE)
    assert outcome.need is None and isinstance(outcome.refusal, Conflict)
    assert (await workflow.status(request_id, user="U0BOB")).status is Status.CANCELLED
