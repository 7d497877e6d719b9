"""The Slack outbox's rules: which deliveries a request owes, when, and who receives each.

Pure functions of a request and the org file in force; the store keeps the rows (one per
step, then one per recipient) and the Slack layer renders and posts them. Nothing here reads
a clock or Slack.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from bot.core import ids
from bot.core.models import Request, Review, Status
from bot.core.org import Groups, Org, Role, eligible_approvers

STEP = ""  # the recipient key of a step's own row: expanded into its recipients when due
AT_ONCE = 0.0  # the due time of what is owed as soon as it is written (whatever the clocks)


class Kind(enum.StrEnum):
    """A kind of delivery; its value is also the event recording the step."""

    ANNOUNCED = "announced"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    REVIEW_TOLD = "review_told"
    REVIEW_ESCALATED = "review_escalated"
    # posts owed with a preview (bot/core/workflow/binding.py), one per recipient, each
    # keyed `<recipient>#<preview seq>`: the full list of numbers under the card, the
    # requester told a target is already gone, the thread told what changed before running
    PREVIEW_LISTED = "preview_listed"
    PREVIEW_GONE = "preview_gone"
    DRIFT_TOLD = "drift_told"
    # an approved request waits for its change window: the thread and the requester told when
    SCHEDULED_TOLD = "scheduled_told"

    @property
    def silent(self) -> bool:
        """Whether its expansion writes no event: the review's `reviewed` says it, and an
        outcome's `announced` is written once its last post is done."""
        return self in (Kind.REVIEW_TOLD, Kind.ANNOUNCED)

    @property
    def retries_refusals(self) -> bool:
        """Whether a post Slack refuses for good is still retried (an admin's fix: inviting
        the bot), as an outcome is; else it is recorded and the step's other posts go on."""
        return self is Kind.ANNOUNCED


class Owed(enum.Enum):
    DUE = "due"  # post it now
    WAIT = "wait"  # not yet (no card to thread under)
    MOOT = "moot"  # never: the request moved on


@dataclass(frozen=True)
class Recipient:
    """One post of a step: `key` names it in the store."""

    key: str
    channel: str
    thread_ts: str | None = None


def owed(kind: Kind, request: Request, now: float) -> Owed:
    """Whether a delivery of `kind` is still owed: reminders only while the request waits,
    a review's escalation only while the review does."""
    if kind in (Kind.REMINDED, Kind.ESCALATED):
        if request.status is not Status.PENDING or now >= request.expires_at:
            return Owed.MOOT
    elif kind is Kind.REVIEW_ESCALATED and request.review is not Review.PENDING:
        return Owed.MOOT
    elif kind is Kind.SCHEDULED_TOLD and request.status is not Status.SCHEDULED:
        return Owed.MOOT  # it ran (or expired) already: its outcome says so
    if kind not in (Kind.REVIEW_TOLD, Kind.PREVIEW_GONE) and request.card_ts is None:
        return Owed.WAIT
    return Owed.DUE


def step_due(kind: Kind, org: Org, request: Request, stored_due: float) -> float | None:
    """When a step is due under the policy in force now (a reloaded org file moves it);
    None: never."""
    reminders = org.policy.reminders_for(request.action)
    if kind is Kind.REMINDED:
        return reminders.remind_at(request.created_at)
    if kind is Kind.ESCALATED:
        return reminders.escalate_at(request.created_at)
    return stored_due


def reminder_steps(org: Org, request: Request) -> list[tuple[Kind, float]]:
    """The reminder steps a pending request's card makes owed, each with when it is due."""
    reminders = org.policy.reminders_for(request.action)
    steps = [
        (Kind.REMINDED, reminders.remind_at(request.created_at)),
        (Kind.ESCALATED, reminders.escalate_at(request.created_at)),
    ]
    return [(kind, when) for kind, when in steps if when is not None]


def waiting(org: Org, request: Request, groups: Groups) -> list[str]:
    """Approvers who may still approve and have not."""
    eligible = eligible_approvers(org, request, groups)
    return [u for u in org.approvers(groups) if u in eligible and u not in request.approvers]


def listed(org: Org, users: list[str]) -> list[str]:
    """Those approving by their own role (named); the rest by a group's (its mention)."""
    return [u for u in users if org.members.get(u, Role.VIEWER) >= Role.APPROVER]


def review_escalation(org: Org | None, request: Request, groups: Groups) -> dict[str, Any]:
    """Whom an overdue break-glass review goes to: the policy's `escalate_to`, else the
    approvers who may review it (approver groups, then people listed by their own role)."""
    if org is None:
        return {}
    to = org.policy.reminders_for(request.action).escalate_to
    people = [u for u in org.approvers(groups) if u != request.requester]
    return {"escalate_to": to, "approvers": [*org.approver_groups(), *listed(org, people)]}


def recipients(kind: Kind, request: Request, org: Org, groups: Groups) -> list[Recipient]:
    """Who receives a step, the card's thread first."""
    thread = (
        [Recipient("thread", request.card_channel, request.card_ts)]
        if request.card_channel and request.card_ts
        else []
    )
    if kind is Kind.REVIEW_TOLD:
        return [*thread, Recipient("requester", request.requester)]
    if kind is Kind.SCHEDULED_TOLD:
        told = ids.is_service(request.requester)  # an API client reads it from the API
        return [*thread, *([] if told else [Recipient("requester", request.requester)])]
    if kind is Kind.ANNOUNCED:
        # who cancelled was told at once; an API client's service identity has no DM (it
        # reads the outcome from the API)
        own_cancel = request.status is Status.CANCELLED and request.decided_by == request.requester
        told = own_cancel or ids.is_service(request.requester)
        requester = [] if told else [Recipient("requester", request.requester)]
        line = [Recipient("outcome", org.outcome_channel)] if org.outcome_channel else []
        return [*thread, *requester, *line]
    if kind is Kind.REMINDED:
        return [*thread, *(Recipient(f"dm:{u}", u) for u in waiting(org, request, groups))]
    to = org.policy.reminders_for(request.action).escalate_to
    if kind is Kind.REVIEW_ESCALATED and not to:
        reviewers = [u for u in org.approvers(groups) if u != request.requester]
        return [*thread, *(Recipient(f"dm:{u}", u) for u in reviewers)]
    channels = [Recipient(f"channel:{c}", c) for c in to if ids.CHANNEL_ID.fullmatch(c)]
    people = [Recipient(f"dm:{u}", u) for u in to if ids.USER_ID.fullmatch(u)]
    return [*thread, *channels, *people]


def mention(target: str) -> str:
    """How Slack mentions a user group, a channel or a person in message text."""
    if ids.USERGROUP_ID.fullmatch(target):
        return f"<!subteam^{target}>"
    if ids.CHANNEL_ID.fullmatch(target):
        return f"<#{target}>"
    return f"<@{target}>"


@dataclass(frozen=True)
class Delivery:
    """One row of the outbox, as the store holds it."""

    id: int
    request_id: int
    kind: Kind
    recipient: str  # STEP for the step itself, else the key of one Recipient
    due_at: float
    attempts: int = 0

    @property
    def is_step(self) -> bool:
        return self.recipient == STEP


def posted_with(recipient: str, seq: int) -> str:
    """The key of a post owed with the `seq`-th preview (several per request, each once)."""
    return f"{recipient}#{seq}"


def preview_seq(key: str) -> int | None:
    """The preview a post's key names (`posted_with`), or None."""
    _, mark, seq = key.partition("#")
    return int(seq) if mark and seq.isdigit() else None


def addressed(key: str, request: Request, org: Org) -> Recipient | None:
    """Where a stored recipient key posts to now (the card's thread, a person, a channel)."""
    key = key.partition("#")[0]
    if key == "thread":
        if not (request.card_channel and request.card_ts):
            return None
        return Recipient(key, request.card_channel, request.card_ts)
    if key == "requester":
        return Recipient(key, request.requester)
    if key == "outcome":
        return Recipient(key, org.outcome_channel) if org.outcome_channel else None
    prefix, _, target = key.partition(":")
    return Recipient(key, target) if prefix in ("dm", "channel") and target else None
