"""What a request came to: the outcome line, the thread reply with every target, the
requester's notice, and what Slack refused on the way."""

from __future__ import annotations

from typing import Any

from bot.core.models import Action, Outcome, Request, Status
from bot.core.text import MAX_REASON
from bot.slack.blocks.card import STATUS_LINE, notes, short_targets, target_line
from bot.slack.blocks.text import MESSAGE_LIMIT, SECTION_LIMIT, clip, escape, quoted, user

__all__ = ["outcome_summary", "requester_notice", "slack_problem_notice", "thread_details"]

REASON_SHOWN = 5 * MAX_REASON + 2
"""The longest reason whole, every character escaped to `&amp;`, in its code span."""
NOTE_SHOWN = 600  # a note's share of the 4,000 left once the reason is in


def outcome_summary(request: Request, *, asked_by: bool = True) -> str:
    """One line: the outcome channel's log entry, and the first line of the requester's notice."""
    return clip(_summary(request, asked_by=asked_by), MESSAGE_LIMIT)


def _summary(request: Request, *, asked_by: bool) -> str:
    done = sum(t.outcome in (Outcome.DONE, Outcome.ALREADY_ABSENT) for t in request.targets)
    total = len(request.targets)
    state = {
        Status.SUCCEEDED: f"succeeded ({done}/{total})",
        Status.FAILED: f"failed ({done}/{total} done)",
        Status.UNKNOWN: f"outcome unknown ({done}/{total} done; see the thread for what to check)",
    }.get(request.status, request.status.value)
    line = (
        f"{STATUS_LINE[request.status].split(' ', 1)[0]} #{request.id} "
        f"{request.action.value} {short_targets(request)} in {escape(request.org)}"
    )
    if asked_by:
        line += f", asked by {user(request.requester)}"
    if request.break_glass:
        incident = f"`{escape(request.incident)}`" if request.incident else "none given"
        line += f", broke glass without approval (incident {incident})"
    elif request.approvers and request.status.ran:
        line += f", approved by {', '.join(user(a) for a in request.approvers)}"
    elif request.decided_by and request.decided_by != "bot":
        line += f", {request.status.value} by {user(request.decided_by)}"
    line = f"{line}: {state}. Reason: {quoted(request.reason, REASON_SHOWN)}"
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        line += f" Why it was {request.status.value}: {quoted(request.decision_note, NOTE_SHOWN)}"
    return line


def thread_details(request: Request) -> list[str]:
    """The thread reply: the requester mentioned, and for a request that ran, every target
    with the API's answer, split to fit Slack's limits."""
    header = f"{user(request.requester)} *Request #{request.id} {request.status.value}.*"
    by = request.decided_by
    if by and by not in ("bot", request.requester) and not request.approvers:
        header += f" ({request.status.value} by {user(by)})"
    lines = [header, *notes(request)]
    ran = request.status.ran
    for state in request.targets if ran else ():
        line = target_line(state, undo=request.action is Action.UNDO)
        if state.status_code is not None:
            tries = "try" if state.attempts == 1 else "tries"
            line += f" (HTTP {state.status_code}, {state.attempts} {tries})"
        lines.append(line)
    chunks: list[str] = []
    current = ""
    for line in map(clip, lines):
        if current and len(current) + len(line) + 1 > SECTION_LIMIT:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    chunks.append(current)
    return chunks


def slack_problem_notice(request: Request, refusal: Any, step: str) -> str:
    """To the requester, at once: what Slack refused for their request and how to fix it."""
    what = {
        "card": "its approval card could not be posted",
        "update": "its approval card could not be updated",
        "thread": "the reply in its card's thread could not be posted",
        "outcome": "its outcome line could not be posted",
    }.get(step, "a message about it could not be posted")
    tail = (
        " It stays pending; the card is posted as soon as that is fixed."
        if step == "card"
        else " The bot tries again on its own."
    )
    return f":warning: Request #{request.id}: {what}: {refusal.fix}.{tail}"


def requester_notice(request: Request) -> str:
    said = [
        f"{user(a.approver)}: {quoted(a.note, NOTE_SHOWN)}" for a in request.approvals if a.note
    ]
    more = f" Approval notes: {'; '.join(said)}" if said else ""
    return clip(f"Your request {_summary(request, asked_by=False)}{more}", MESSAGE_LIMIT)


def scheduled_notice(request: Request, *, to_requester: bool) -> str:
    """An approved request held for its change window: the thread, or its requester, told
    when it runs (as the bot wrote it when holding it)."""
    by = ", ".join(user(a) for a in request.approvers)
    when_text = escape(request.decision_note or "runs when its change window opens")
    if to_requester:
        return clip(
            f":calendar: Your request #{request.id} ({short_targets(request)}) was approved by "
            f"{by}; it {when_text}.",
            MESSAGE_LIMIT,
        )
    return clip(f":calendar: Approved by {by}; it {when_text}.", MESSAGE_LIMIT)
