"""The trust rules for a request a Workflow Builder step files: it names a requester nobody
verified, so it never breaks glass, files only where the org file turns steps on and only
for a requester it may name, needs one approval more than its policy (core/org.py's
step_approvals, at filing and whenever the quorum is counted), and its named requester never
approves it."""

from __future__ import annotations

from bot.core.models import Request
from bot.core.org import Groups, Org
from bot.errors import MembershipPending, NotAllowed

STEP_BREAK_GLASS = (
    "a workflow step cannot break glass (it cannot say who ran the workflow); file it with "
    "`/sfvopi ... --break-glass INCIDENT` instead"
)


def may_file(by_step: bool, break_glass: str | None) -> None:
    """A step never breaks glass: it cannot say who ran the workflow."""
    if by_step and break_glass is not None:
        raise NotAllowed(STEP_BREAK_GLASS)


def may_name(org: Org, requester: str, groups: Groups) -> None:
    """A step files into `org` only where the org file turns steps on, and names only a
    requester its `requesters` allow (a group not read yet: MembershipPending)."""
    steps = org.workflow_steps
    if steps is None:
        raise NotAllowed(
            f"workflow steps are off in org {org.name}; an admin can turn them on with "
            "workflow_steps in the org file"
        )
    if steps.names(requester, groups):
        return
    if steps.unknown_groups(groups):
        raise MembershipPending(
            "the bot is still reading the Slack user groups workflow steps may name; try "
            "again in a moment"
        )
    raise NotAllowed(
        f"workflow steps in org {org.name} may not name {requester} as the requester: an "
        "admin lists whom they may name under workflow_steps requesters in the org file"
    )


def may_approve_named(request: Request) -> None:
    """The requester a step named may not approve it: nobody verified that it was them."""
    if request.filed_by_step:
        raise NotAllowed(
            "a workflow step filed this request naming you as its requester, which "
            "nobody could verify: another approver must approve it"
        )
