"""Reminders and escalations of an undecided request: in the card's thread, privately to an
approver, and in a channel it is escalated to."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import Request
from bot.slack.blocks.card import title
from bot.slack.blocks.text import escape, mentions, user, when

__all__ = ["escalation_post", "escalation_thread", "reminder_dm", "reminder_thread"]


def _missing(request: Request) -> str:
    left = max(request.approvals_needed - len(request.approvals), 1)
    return f"{left} more approval{'s' if left != 1 else ''}"


def _card_link(link: str | None) -> str:
    return f"<{link}|Open the card>" if link else "Open the card in its approval channel"


def _which(request: Request) -> str:
    """The request named for someone away from its card: its org, what it does, who asked."""
    return (
        f"#{request.id} in *{escape(request.org)}* ({title(request)}, asked by "
        f"{user(request.requester)})"
    )


def _overdue(request: Request) -> str:
    return f"has waited since {when(request.created_at)} and still needs {_missing(request)}"


def reminder_thread(request: Request, approvers: Sequence[str], groups: Sequence[str]) -> str:
    """The reminder in the card's thread: what is missing and who can give it."""
    who = mentions([*groups, *approvers]) or "nobody listed (ask an admin)"
    return (
        f":bell: Request #{request.id} is still waiting for {_missing(request)}. "
        f"Who can approve: {who}"
    )


def reminder_dm(request: Request, link: str | None) -> str:
    """The reminder an approver gets privately, pointing at the card."""
    return (
        f":bell: Request {_which(request)} is waiting for {_missing(request)}, and you "
        f"can give one. {_card_link(link)}."
    )


def escalation_thread(request: Request, to: Sequence[str], approvers: Sequence[str]) -> str:
    """The escalation in the card's thread, mentioning the groups and people it goes to."""
    can = f" Who can approve: {mentions(approvers)}." if approvers else ""
    overdue = _overdue(request)
    return f":rotating_light: Escalated to {mentions(to)}: request #{request.id} {overdue}.{can}"


def escalation_post(request: Request, link: str | None) -> str:
    """The escalation as a message in a channel named in `escalate_to`."""
    return (
        f":rotating_light: Escalated: request {_which(request)} {_overdue(request)}. "
        f"{_card_link(link)}."
    )
