"""When a pending request is reminded and escalated: pure arithmetic over the policy and the
steps the store says were claimed and done. The store decides who does a step (a claim); the
Slack layer posts it; nothing here reads a clock."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.core import ids
from bot.core.models import Action
from bot.core.org import Reminders


class Step(enum.IntEnum):
    """A request's reminder steps, in the order they come; the store keeps the last one."""

    REMIND = 1
    ESCALATE = 2

    @property
    def kind(self) -> str:
        """The event recording the step."""
        return "reminded" if self is Step.REMIND else "escalated"

    def at(self, reminders: Reminders, created_at: float) -> float | None:
        """When this step is due for a request created at `created_at` (None: never)."""
        if self is Step.REMIND:
            return reminders.remind_at(created_at)
        return reminders.escalate_at(created_at)


@dataclass(frozen=True)
class ReminderState:
    """A pending request's reminder bookkeeping, as the store holds it."""

    request_id: int
    org: str
    action: Action
    created_at: float
    expires_at: float
    step: int = 0  # the last step claimed
    done: int = 0  # the last step fully posted
    lease_until: float | None = None


@dataclass(frozen=True)
class Due:
    """What a sweep should do for one request: claim `step`, or resume posting it."""

    step: Step
    resume: bool


def due(reminders: Reminders, state: ReminderState, now: float) -> Due | None:
    """The next thing to do, if anything: a step whose time has come and that is not claimed
    yet (the earliest first, so a bot that was down still reminds before it escalates), else
    a claimed step left half-posted whose poster's lease has lapsed. Nothing once expired."""
    if now >= state.expires_at:
        return None
    lapsed = state.lease_until is None or state.lease_until < now
    for step in Step:
        when = step.at(reminders, state.created_at)
        if step > state.step and when is not None and when <= now:
            return Due(step, resume=False) if lapsed else None
    if state.done < state.step and lapsed:
        return Due(Step(state.step), resume=True)
    return None


def mention(target: str) -> str:
    """How Slack mentions a user group, a channel or a person in message text."""
    if ids.USERGROUP_ID.fullmatch(target):
        return f"<!subteam^{target}>"
    if ids.CHANNEL_ID.fullmatch(target):
        return f"<#{target}>"
    return f"<@{target}>"
