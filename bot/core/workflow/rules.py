"""Who may decide what on a request, and the text a decision carries (pure: no store, no
clock). Approvers approve and deny others' requests; the requester or an admin cancels; the
requester approves their own only where the policy allows it, and never one a step filed."""

from __future__ import annotations

import enum

from bot.core.models import Request
from bot.core.org import Need, Org, Role, may_approve_own
from bot.core.text import MAX_NOTE, one_line
from bot.core.workflow import steps
from bot.errors import InvalidRequest, NotAllowed


class Decision(enum.StrEnum):
    """What a person decides on a pending request; each may carry a text (a reason, a note)."""

    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"


CONFIRMED = frozenset({Decision.APPROVE, Decision.DENY})
"""Decisions a click only asks for: the person confirms them in the bot's form (Deny's always
asks why), opened once the rules let them decide, so nobody confirms what they may not do."""


def role_needed(decision: Decision) -> Role:
    """The role a decision needs, before who the person is to the request counts."""
    return Role.VIEWER if decision is Decision.CANCEL else Role.APPROVER


def may(decision: Decision, request: Request, org: Org, role: Role, user: str) -> None:
    """The refusal for who the person is, raised (before whether the request is pending)."""
    if decision is Decision.CANCEL:
        if user != request.requester and role < Role.ADMIN:
            raise NotAllowed("only the requester or an admin can cancel a request")
    elif role < Role.APPROVER:
        doing = "approving" if decision is Decision.APPROVE else "denying"
        raise NotAllowed(f"{doing} needs the approver role in {org.name}; you are a {role.label}")
    elif decision is Decision.DENY and user == request.requester:
        raise NotAllowed("you cannot deny your own request; cancel it instead")


def may_approve_own_request(decision: Decision, request: Request, org: Org, user: str) -> None:
    """The refusal for approving one's own request (told only of a pending one), raised."""
    if decision is Decision.APPROVE and user == request.requester:
        steps.may_approve_named(request)
        if not may_approve_own(org, request):
            raise NotAllowed("you cannot approve your own request; another approver must")


def need(org: Org, decision: Decision) -> Need:
    """Whether the policy asks for a text with this decision: a note, or a reason."""
    return org.policy.approve_note if decision is Decision.APPROVE else org.policy.deny_reason


def text(org: Org, decision: Decision, given: str) -> str:
    """A reason or note as stored, checked against what the policy asks."""
    what = "note" if decision is Decision.APPROVE else "reason"
    given = one_line(given, f"the {what}")
    if need(org, decision) is Need.REQUIRED and not given:
        raise InvalidRequest(f"a {what} is required for this decision in this organization")
    if len(given) > MAX_NOTE:
        raise InvalidRequest(f"a {what} is too long ({len(given)} > {MAX_NOTE} characters)")
    return given


def may_refresh(request: Request, role: Role, user: str) -> bool:
    """Whether `user` is someone a card's buttons are for: an approver of its org, or its
    requester. Nothing about a request's cards may change for anyone else's click."""
    return role >= Role.APPROVER or user == request.requester
