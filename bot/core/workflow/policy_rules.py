"""The policy's rules (bot/core/policy.py) where the workflow decides: a rule's refusal at
filing, whichever door filed; break-glass a rule forbids; who a rule lets approve; and what
the `requested` event records. An org without rules passes through each unchanged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.core.models import Action, Request, Target
from bot.core.org import Groups, Org, Role, approvals_now, eligible_approvers
from bot.core.policy import RuleDecision
from bot.core.requirements import out_of_turn
from bot.errors import MembershipPending, NotAllowed


def ruling(org: Org, action: Action, targets: Sequence[Target]) -> RuleDecision:
    """The rules' decision on a request about to be filed; NotAllowed with the rule's own
    words when one refuses it (nothing is filed)."""
    ruled = org.policy.decide(action, targets)
    refused = ruled.refusal()
    if refused is not None:
        raise NotAllowed(refused)
    return ruled


def may_break_glass(ruled: RuleDecision) -> None:
    rule = ruled.forbids_break_glass
    if rule is not None:
        raise NotAllowed(
            f"break-glass is forbidden for this request by {rule.label}: file it without "
            "`--break-glass`, for approval"
        )


def recorded(org: Org, ruled: RuleDecision) -> dict[str, object] | None:
    """The decision as the `requested` event keeps it; None for an org without rules (its
    events stay as they always were)."""
    return ruled.detail() if org.policy.rules else None


def may_approve(org: Org, request: Request, user: str, role: Role, groups: Groups) -> None:
    """The refusal for an approver the rules in force do not admit for this request, raised
    (MembershipPending while a user group they name is not read yet)."""
    ruled = org.policy.ruled_for(request)
    if ruled is None:
        return
    refused = ruled.refusal()
    if refused is not None:
        raise NotAllowed(f"the policy in force now refuses this request: {refused}")
    admitted = ruled.admits(user, role, groups)
    if admitted and not ruled.in_order:
        return
    _groups_read(ruled, groups)
    if admitted:  # in order: and in their turn
        _in_turn(org, ruled, request, (user, role), groups)
        return
    restricting = [r for r in ruled.restricting if not r.admits(user, role, groups)]
    if restricting:
        named = " and ".join(r.label for r in restricting)
        who = " and ".join(r.approvers_text() for r in restricting)
        raise NotAllowed(f"under {named}, only {who} may approve this request")
    needs = " and ".join(n.text() for n in ruled.requirements())
    raise NotAllowed(f"this request needs {needs}, and you are none of them")


def _groups_read(ruled: RuleDecision, groups: Groups) -> None:
    """MembershipPending while a user group the rules name is not read: until it is, nobody
    can tell who it admits."""
    if any(g not in groups for g in ruled.groups()):
        raise MembershipPending(
            "the bot is still reading the Slack user groups this request's policy rules name; "
            "try again in a moment"
        )


def _in_turn(
    org: Org, ruled: RuleDecision, request: Request, who: tuple[str, Role], groups: Groups
) -> None:
    """Refuses an approval for a stage that does not wait now (stages in order): it could
    not count yet, or only for a stage already filled."""
    user, role = who
    filled = ruled.filled(request.approvers, lambda u: org.role_of(u, groups), groups)
    free = ruled.approvals > sum(n.approvals for n in ruled.requirements())
    why = out_of_turn(filled, lambda need: need.admits(user, role, groups), free=free)
    if why is not None:
        raise NotAllowed(f"this request's approvals go in order: {why}")


def redecided(org: Org, request: Request, linked: int | None) -> RuleDecision | None:
    """The rules decided again once a preview says how many numbers the request would unlink
    (None: the count changes nothing, or no rule bounds it)."""
    if linked is None or not any(r.needs_linked for r in org.policy.rules):
        return None
    before = org.policy.decide_for(request)
    after = org.policy.decide_for(replace(request, linked_numbers=linked))
    return None if after.detail() == before.detail() else after


def unread_count(org: Org, request: Request) -> str | None:
    """Why an approval must wait: a rule bounding the linked count may apply, and the preview
    that counts them has not been read yet (None: nothing to wait for)."""
    ruled = org.policy.ruled_for(request)
    if ruled is None or not ruled.skipped or request.linked_numbers is not None:
        return None
    return (
        f"request #{request.id}: the bot is still reading what this {request.action.value} "
        "would unlink, which its policy rules depend on; try again in a moment"
    )


def quorum(org: Org, request: Request, groups: Groups) -> Callable[[Sequence[str]], bool] | None:
    """What the store asks of the eligible approvers besides their count: that they fill the
    teams the rules require, one person each (None: no rule requires any)."""
    ruled = org.policy.ruled_for(request)
    if ruled is None or not ruled.requirements():
        return None
    known = dict(groups)

    def met(approvers: Sequence[str]) -> bool:
        return ruled.met(approvers, lambda user: org.role_of(user, known), known)

    return met


def lapsed(org: Org, request: Request, groups: Groups) -> str | None:
    """Why a request held for its window may no longer run under the org file in force: its
    requester lost the role, or its approvals, counted as a quorum counts them now (only
    people who still approve; the policy's approvals and teams now), fall short. None: it
    stands. `groups`: every user group granting a role read; MembershipPending while one its
    rules name is not (an approver it admits would be counted out)."""
    role = org.role_of(request.requester, groups)
    if role is None or role < Role.REQUESTER:
        return f"its requester is no longer a requester in {org.name}"
    ruled = org.policy.ruled_for(request)
    if ruled is not None:
        _groups_read(ruled, groups)
    eligible = eligible_approvers(org, request, groups)
    approving = [a for a in request.approvers if a in eligible]
    met = quorum(org, request, groups)
    if len(approving) >= approvals_now(org, request) and (met is None or met(approving)):
        return None
    return (
        f"the approvals it was held on no longer meet its quorum in {org.name} (an approver "
        "lost the role, or the policy now asks more); file it again if still needed"
    )
