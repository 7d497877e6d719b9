"""The approval workflow's data, as plain frozen values shared by store, workflow and blocks."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    UNLINK = "unlink"
    DELETE = "delete"
    UNDO = "undo"  # takes back a request that ran (bot/core/undo.py); only the bot files it


class Status(enum.StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # ran, but SFVoPI never said whether a target took effect
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    # approved outside its change window (or during a freeze, or before its --at): waits for
    # `run_at`, then is claimed and run by a sweep (bot/core/workflow/scheduling.py)
    SCHEDULED = "scheduled"

    @property
    def final(self) -> bool:
        return self not in (Status.PENDING, Status.EXECUTING, Status.SCHEDULED)

    @property
    def ran(self) -> bool:
        """Whether the API was called for it (its targets carry results)."""
        return self in (Status.EXECUTING, Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN)

    @property
    def phrase(self) -> str:
        """The state in a sentence: "request #4 has already succeeded"."""
        return _PHRASES[self]


_PHRASES = {
    Status.PENDING: "is still waiting for approval",
    Status.EXECUTING: "is already running",
    Status.SUCCEEDED: "has already succeeded",
    Status.FAILED: "has already run (it failed)",
    Status.UNKNOWN: "has already run (its outcome is unknown)",
    Status.DENIED: "was denied",
    Status.CANCELLED: "was cancelled",
    Status.EXPIRED: "has expired",
    Status.SCHEDULED: "is approved and waits for its change window",
}


class Outcome(enum.StrEnum):
    """What the API did to one target."""

    DONE = "done"
    ALREADY_ABSENT = "already_absent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # no answer, or an unreadable one, after it may have been applied


class Review(enum.StrEnum):
    """Where a break-glass request's review after the fact stands."""

    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    FLAGGED = "flagged"


@dataclass(frozen=True)
class Target:
    """One thing to remove: an app (delete), or a number linked to an app (unlink)."""

    app_id: str
    number: str | None = None

    def __str__(self) -> str:
        return f"{self.number} on {self.app_id}" if self.number else self.app_id


@dataclass(frozen=True)
class TargetState:
    target: Target
    outcome: Outcome | None = None
    status_code: int | None = None
    message: str | None = None
    attempts: int = 0
    new_app_id: str | None = None  # an undo's recreated app: its new id, recorded before linking


@dataclass(frozen=True)
class Approval:
    approver: str
    at: float
    note: str | None = None  # what the approver wrote when approving, if asked


# what a request filed by a Workflow Builder step says of itself (its card, its `requested` event)
STEP_FILED = "filed by a workflow step; requester as named by the workflow"
STEP_EXTRA_APPROVALS = 1
"""A step's requester is unverified, so whoever built the workflow may be one of the
approvers: a step's request needs this many approvals more than its policy says, so that
still two people decide."""


@dataclass(frozen=True)
class Request:
    id: int
    org: str
    action: Action
    requester: str
    reason: str
    status: Status
    approvals_needed: int
    created_at: float
    expires_at: float
    targets: tuple[TargetState, ...]
    approvals: tuple[Approval, ...] = ()
    decided_by: str | None = None
    decision_note: str | None = None
    finished_at: float | None = None
    channel_id: str | None = None
    response_url: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    notified_at: float | None = None
    slack_problem: str | None = None  # what Slack refused last, as `step:error`
    executions: int = 0
    # break-glass (run at once by one person, reviewed afterwards): the incident it cites,
    # the review's state, who gave it and why, when it is due, and whether it was escalated
    break_glass: bool = False
    incident: str | None = None
    review: Review | None = None
    reviewed_by: str | None = None
    review_note: str | None = None
    reviewed_at: float | None = None
    review_due_at: float | None = None
    review_escalated: bool = False
    # filed by a Workflow Builder step: its requester is whoever the workflow named, which
    # nobody verified, so they never approve it (docs/security.md)
    filed_by_step: bool = False
    # undo (bot/core/undo.py): the request this one takes back; for one that ran, whether a
    # pre-image was recorded before it did, and its latest undo not withdrawn (id, status)
    undoes: int | None = None
    pre_image: bool = False
    undo: tuple[int, Status] | None = None
    # scheduled execution (migration 0017): the earliest time the requester asked for (--at),
    # and, once approved outside a window, when it runs and by when it must have run
    run_after: float | None = None
    run_at: float | None = None
    run_until: float | None = None

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(a.approver for a in self.approvals)


@dataclass(frozen=True)
class NewRequest:
    """A request as filing hands it to the store, before it has a number: what a pending and
    a break-glass request are both filed with (`policy`: the rule decision its `requested`
    event records)."""

    org: str
    action: Action
    requester: str
    reason: str
    targets: Sequence[Target]
    now: float
    expires_at: float
    channel_id: str | None = None
    response_url: str | None = None
    dedupe_key: str | None = None
    again: bool = False
    policy: Mapping[str, object] | None = None
    undoes: int | None = None  # an undo: the request it takes back (bot/core/undo.py)
    run_after: float | None = None  # --at: not run before this moment

    def pending(
        self, request_id: int, approvals_needed: int = 0, *, filed_by_step: bool = False
    ) -> Request:
        """The request as stored, before anything has happened to it."""
        return Request(
            id=request_id,
            org=self.org,
            action=self.action,
            requester=self.requester,
            reason=self.reason,
            status=Status.PENDING,
            approvals_needed=approvals_needed,
            created_at=self.now,
            expires_at=self.expires_at,
            targets=tuple(TargetState(target=t) for t in self.targets),
            channel_id=self.channel_id,
            response_url=self.response_url,
            filed_by_step=filed_by_step,
            undoes=self.undoes,
            run_after=self.run_after,
        )


@dataclass(frozen=True)
class Event:
    request_id: int
    at: float
    actor: str
    kind: str
    detail: dict[str, object] = field(default_factory=dict)
