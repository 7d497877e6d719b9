"""Replies to a command: usage, refusals (escaped, our channel links let through) and lists
of requests."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.models import Request, Status
from bot.slack.blocks.card import approvals_text, short_targets
from bot.slack.blocks.text import Block, clip, context, escape, quoted, section, user, when

__all__ = ["HELP_HINT", "USAGE", "error", "request_line", "request_list", "warning"]

USAGE = """*Usage* — `/sfvopi <command>`
• `unlink <+E.164 number> [more numbers] <app_id> <reason…>` — unlink numbers from an app
• `delete <app_id> [more app ids] <reason…>` — delete apps (permanent)
• `status <request>` — one request, e.g. `status 17`
• `pending` — requests waiting for approval
• `history` — recent requests
• `cancel <request> [why…]` — withdraw your own pending request
• `undo <request> [why…]` — put back what a request did (its own request, approved like any \
other; a deleted app comes back with a new app_id)
• `whoami` — your organizations and roles
• `policy [unlink|delete <targets…>]` — your org's approval rules, or which one a request \
would fall under and why
• `help` — this message
Add `--org NAME` right after `/sfvopi` (or after the command) when you belong to several \
organizations. The reason is everything after the targets; if it starts with something that \
looks like a number or an app id, put `--` before it. A target already waiting in a pending \
request is refused; add `--again` right after the command to file another anyway. Where your \
org's policy allows your role, `--break-glass INC-4411` right after the targets runs it at once, \
without approval, citing the incident; an approver reviews it afterwards.
Example: `/sfvopi unlink +918000000001 app_abc123 fraud on this DID, INC-4411`"""
HELP_HINT = "`/sfvopi help` for every command and its options."
_CHANNEL_LINK = re.compile(r"&lt;#([CG][A-Z0-9]{2,40})&gt;")


def request_line(request: Request) -> str:
    """A request in a list (`pending`, `history`): what, who, why, and when it was decided."""
    approvals = (
        "broke glass (no approvals)"
        if request.break_glass
        else f"{approvals_text(request)} approvals"
    )
    line = (
        f"• *#{request.id}* {request.action.value} {short_targets(request)}"
        f" — {request.status.value}, {approvals},"
        f" by {user(request.requester)} in {escape(request.org)}, filed {when(request.created_at)}"
    )
    if request.status is Status.PENDING:
        line += f", expires {when(request.expires_at)}"
    if request.status is Status.SCHEDULED and request.run_at is not None:
        line += f", runs at {when(request.run_at)}"
    decided = request.status in (Status.DENIED, Status.CANCELLED)
    decider = request.decided_by if decided and request.decided_by != "bot" else None
    if decider:
        line += f", {request.status.value} by {user(decider)}"
    if request.finished_at is not None and request.status.final:
        line += f"{'' if decider else ', finished'} {when(request.finished_at)}"
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        line += f", why: {quoted(request.decision_note)}"
    return f"{line}\n      reason: {quoted(request.reason)}"


def request_list(heading: str, requests: Sequence[Request]) -> list[Block]:
    if not requests:
        return [section(f"*{heading}*\nNothing here.")]
    return [section(clip(f"*{heading}*\n" + "\n".join(request_line(r) for r in requests)))]


def error(message: str, *, usage: bool = False) -> list[Block]:
    """A refusal: its message is escaped whole, then our own channel links are let through
    (user text in a refusal sits in a code span, where a channel link cannot ping anyone).
    `usage` points to the help in one line: a typo is not answered with the whole of it."""
    shown = _CHANNEL_LINK.sub(r"<#\1>", escape(message))
    blocks = [section(f":warning: {shown}")]
    if usage:
        blocks.append(context(HELP_HINT))
    return blocks


def warning(message: str, link: str | None = None) -> Block:
    """A refusal with a link of ours after it (the message itself escaped, as in `error`)."""
    shown = _CHANNEL_LINK.sub(r"<#\1>", escape(message))
    more = f" <{link}|See its card.>" if link else ""
    return section(f":warning: {shown}{more}")
