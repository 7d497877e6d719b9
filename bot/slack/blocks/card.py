"""The approval card: what an approver needs to decide, its buttons while pending, and the
same card for `/sfvopi status` and for a duplicate retired."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import STEP_FILED, Action, Outcome, Request, Status, TargetState
from bot.core.preview import StoredPreview
from bot.core.undo import Offer
from bot.slack.blocks.policy import Filled, requirements_line
from bot.slack.blocks.preview import preview_blocks
from bot.slack.blocks.text import (
    Block,
    clip,
    context,
    escape,
    fields_section,
    inert,
    mentions,
    plain,
    quoted,
    section,
    user,
    when,
)
from bot.slack.blocks.undo import undo_blocks, undo_target, undo_title
from bot.slack.refusals import explain

__all__ = [
    "APPROVE",
    "BUTTONS",
    "CANCEL",
    "DENY",
    "OUTCOME_ICON",
    "STATUS_LINE",
    "STEP_NOTICE",
    "TARGETS_SHOWN",
    "VERB",
    "approvals_text",
    "card",
    "card_block_id",
    "card_text",
    "decision_buttons",
    "escalation_line",
    "is_card_block_id",
    "notes",
    "retired_card",
    "short_targets",
    "status_blocks",
    "stuck_line",
    "target_line",
    "targets_text",
    "title",
]

STEP_NOTICE = f"⚠️ {STEP_FILED.capitalize()}, so it needs one approval more than the policy's"
APPROVE = "sfvopi_approve"
DENY = "sfvopi_deny"
CANCEL = "sfvopi_cancel"
BUTTONS = (APPROVE, DENY, CANCEL)
TARGETS_SHOWN = 40
POLICY_SHOWN = 500  # the policy line on a card: a few rules named, their needs
STATUS_LINE = {
    Status.PENDING: ":hourglass_flowing_sand: Waiting for approval",
    Status.EXECUTING: ":gear: Approved, running now",
    Status.SUCCEEDED: ":white_check_mark: Done",
    Status.FAILED: ":x: Failed",
    Status.UNKNOWN: ":grey_question: Outcome unknown",
    Status.DENIED: ":no_entry: Denied",
    Status.CANCELLED: ":heavy_multiplication_x: Cancelled",
    Status.EXPIRED: ":alarm_clock: Expired",
    Status.SCHEDULED: ":calendar: Approved — waits for its change window",
}
OUTCOME_ICON = {
    Outcome.DONE: ":white_check_mark:",
    Outcome.ALREADY_ABSENT: ":ballot_box_with_check:",
    Outcome.FAILED: ":x:",
    Outcome.UNKNOWN: ":grey_question:",
}
VERB = {Action.UNLINK: "Unlink", Action.DELETE: "Delete", Action.UNDO: "Undo"}


def title(request: Request) -> str:
    if request.action is Action.UNDO:
        return undo_title(request)
    noun = "number" if request.action is Action.UNLINK else "app"
    count = len(request.targets)
    what = f"{count} {noun}{'s' if count != 1 else ''}"
    return f"{VERB[request.action]} {what} — request #{request.id}"


def target_line(state: TargetState, *, undo: bool = False) -> str:
    t = state.target
    what = f"`{t.number}` from `{t.app_id}`" if t.number else f"`{t.app_id}`"
    if undo:
        what = undo_target(state)
    if state.outcome is None:
        return f"• {what}"
    icon = OUTCOME_ICON[state.outcome]
    label = {
        Outcome.DONE: "done",
        Outcome.ALREADY_ABSENT: "already absent",
        Outcome.FAILED: "failed",
        Outcome.UNKNOWN: "unknown",
    }[state.outcome]
    message = (
        f": {escape(inert(state.message))}"
        if state.message and state.outcome is not Outcome.DONE
        else ""
    )
    return f"{icon} {what} — {label}{message}"


def targets_text(
    targets: Sequence[TargetState],
    limit: int = TARGETS_SHOWN,
    *,
    heading: str = "",
    undo: bool = False,
) -> str:
    """The first `limit` targets after `heading`, clipped to a section with the line saying
    how many more there are kept whole."""
    lines = "\n".join(target_line(t, undo=undo) for t in targets[:limit])
    more = f"… and {len(targets) - limit} more (see the thread)" if len(targets) > limit else ""
    return clip(heading + lines, tail=more)


def approvals_text(request: Request) -> str:
    have = len(request.approvals)
    by = ", ".join(user(a) for a in request.approvers)
    return f"{have} of {request.approvals_needed}" + (f" ({by})" if by else "")


def card(
    request: Request,
    *,
    escalates_at: float | None = None,
    escalate_to: Sequence[str] = (),
    now: float = 0.0,
    policy: str | None = None,
    requirements: Sequence[Filled] = (),
    in_order: bool = False,
    preview: StoredPreview | None = None,
    undo: Offer | None = None,
) -> list[Block]:
    """The approval card: everything an approver needs to decide, and buttons while pending
    (with when, undecided, it is escalated and to whom, if the policy says; `now` tells
    whether that is still to come; `policy`: which of the org's policy rules decided what it
    needs, one line; `requirements`: the teams it requires and who filled each (`in_order`:
    as stages, one after another); `preview`: what it touches as last read from SFVoPI);
    once it ran, Undo while `undo` offers it."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(request)[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{status_line(request)}*"},
        },
        fields_section(
            ("Requested by", user(request.requester)),
            ("Organization", escape(request.org)),
            ("Action", request.action.value),
            ("Approvals", approvals_text(request)),
        ),
        *([context(STEP_NOTICE)] if request.filed_by_step else []),
        *([context(clip(f"Policy: {escape(policy)}", POLICY_SHOWN))] if policy else []),
        *(
            [context(clip(requirements_line(requirements, in_order), POLICY_SHOWN))]
            if requirements
            else []
        ),
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": targets_text(
                    request.targets,
                    heading="*Targets*\n",
                    undo=request.action is Action.UNDO,
                ),
            },
        },
        *preview_blocks(request, preview),
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Reason*"}},
        {"type": "section", "text": plain(request.reason)},
    ]
    if any(a.note for a in request.approvals):
        lines = "\n".join(notes(request))
        blocks.append(section(f"*Approval notes*\n{lines}"))
    if request.status is Status.PENDING:
        seen = f".p{preview.seq}" if preview else ""  # a new preview: a new block_id
        block_id = card_block_id(request.id, request) + seen
        blocks.append(decision_buttons(request, block_id=block_id))
        blocks.append(
            context(
                f"Request #{request.id} · expires {when(request.expires_at)}"
                " · the requester cannot approve it"
            )
        )
        if escalates_at is not None and escalate_to:
            done = now >= escalates_at
            blocks.append(context(escalation_line(escalates_at, escalate_to, done=done)))
    else:
        if request.status is Status.SCHEDULED:  # approved, not run yet: it may still be stopped
            block_id = card_block_id(request.id, request)
            blocks.append(decision_buttons(request, approver=False, block_id=block_id))
        blocks.append({"type": "divider"})
        blocks.append(context(_decision(request)))
        blocks.extend(undo_blocks(request, undo))
    return blocks


def status_line(request: Request) -> str:
    """The card's state; a held request says when it runs and why ("Approved — runs at 02:00
    IST (window mon-fri 02:00-05:00 Asia/Kolkata)"), as the bot wrote it when holding it."""
    if request.status is Status.SCHEDULED and request.decision_note:
        return f":calendar: Approved — {escape(request.decision_note)}"
    return STATUS_LINE[request.status]


def escalation_line(at: float, to: Sequence[str], *, done: bool = False) -> str:
    """When an undecided request is escalated, and to whom (ids from the org file): said as
    what will happen until `done`, then as what happened."""
    if done:
        return f":rotating_light: Escalated to {mentions(to)}: undecided by {when(at)}"
    return f":rotating_light: If undecided by {when(at)}, it is escalated to {mentions(to)}"


def card_text(request: Request) -> str:
    """The notification fallback: what a phone shows for the card."""
    return f"{title(request)}: {STATUS_LINE[request.status].split(' ', 1)[1].lower()}"


def decision_buttons(
    request: Request, *, approver: bool = True, requester: bool = True, block_id: str = ""
) -> Block:
    """The card's buttons (the App Home shows the same ones: same ids, same values, the same
    checks when clicked); `approver` and `requester` pick which are shown. No Slack `confirm`:
    Slack would ask before the bot hears the click, so the bot confirms in its own form, only
    for whoever may decide (handlers/actions.py)."""
    rid = str(request.id)
    elements: list[Block] = [
        {
            "type": "button",
            "action_id": APPROVE,
            "text": {"type": "plain_text", "text": "Approve"},
            "style": "primary",
            "value": rid,
        },
        {
            "type": "button",
            "action_id": DENY,
            "text": {"type": "plain_text", "text": "Deny"},
            "style": "danger",
            "value": rid,
        },
        {
            "type": "button",
            "action_id": CANCEL,
            "text": {"type": "plain_text", "text": "Cancel (requester)"},
            "value": rid,
        },
    ]
    shown = {APPROVE: approver, DENY: approver, CANCEL: requester}
    return {
        "type": "actions",
        "block_id": block_id or card_block_id(request.id),
        "elements": [e for e in elements if shown[e["action_id"]]],
    }


def card_block_id(request_id: int, state: Request | None = None) -> str:
    """The buttons' block id: it names the request, so a clicked message shows whose card it is;
    on the card it also names the card's state, as Slack asks a new block_id per update."""
    named = f"sfvopi_request_{request_id}"
    if state is None:
        return named
    return f"{named}.{state.status.value}.{len(state.approvals)}"


def is_card_block_id(block_id: object, request_id: int) -> bool:
    """Whether a block id is that request's buttons, in any iteration of its card."""
    named = card_block_id(request_id)
    return isinstance(block_id, str) and (block_id == named or block_id.startswith(named + "."))


def _decision(request: Request) -> str:
    by = user(request.decided_by) if request.decided_by and request.decided_by != "bot" else None
    parts = [f"Request #{request.id}"]
    if request.break_glass and request.status.ran:
        parts.append(f"broke glass: {user(request.requester)}, without approval")
    elif request.status.ran:
        parts.append(f"approved by {', '.join(user(a) for a in request.approvers)}")
    elif request.status is Status.DENIED and by:
        parts.append(f"denied by {by}")
    elif request.status is Status.CANCELLED and by:
        parts.append(f"cancelled by {by}")
    elif request.status is Status.CANCELLED:
        parts.append("cancelled by the bot")
    elif request.status is Status.SCHEDULED:
        parts.append(f"approved by {', '.join(user(a) for a in request.approvers)}")
        if request.run_until is not None:
            parts.append(f"expires if not run by {when(request.run_until)}")
    elif request.status is Status.EXPIRED and request.decision_note:
        parts.append(f"expired: {quoted(request.decision_note)}")
    elif request.status is Status.EXPIRED:
        parts.append(f"no decision before {when(request.expires_at)}")
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        parts.append(f"why: {quoted(request.decision_note)}")
    if request.finished_at and request.status.final:
        parts.append(f"finished {when(request.finished_at)}")
    return " · ".join(parts)


def notes(request: Request) -> list[str]:
    """What the deciders wrote: each approver's note, and why it was denied or cancelled."""
    lines = [f"• {user(a.approver)}: {quoted(a.note)}" for a in request.approvals if a.note]
    if request.decision_note and request.status in (Status.DENIED, Status.CANCELLED):
        lines.append(f"Why it was {request.status.value}: {quoted(request.decision_note)}")
    return lines


def short_targets(request: Request) -> str:
    names = [f"`{t.target}`" for t in request.targets[:3]]
    if len(request.targets) > 3:
        names.append(f"+{len(request.targets) - 3} more")
    return ", ".join(names)


def retired_card(request: Request, where: str) -> list[Block]:
    """A duplicate card, without buttons, that sends its reader to the one kept up to date."""
    return [
        section(f":link: This card for request #{request.id} was posted twice; see {where}."),
        context(title(request)),
    ]


def status_blocks(request: Request, preview: StoredPreview | None = None) -> list[Block]:
    """`/sfvopi status`: the card as it stands (with what it touches as last read), without
    buttons (and without the line about who may press them), and what Slack refused for it,
    if anything, with the fix."""
    shown = card(request, preview=preview)
    if request.status is Status.PENDING:
        shown = [b for b in shown if b["type"] not in ("actions", "context")]
        shown.append(context(f"Request #{request.id} · expires {when(request.expires_at)}"))
    if request.slack_problem is not None:
        shown.append(section(f":warning: {stuck_line(request)}"))
    return shown


def stuck_line(request: Request) -> str:
    """What Slack refused for this request and how to fix it, as status and /healthz say it."""
    assert request.slack_problem is not None
    return f"Request #{request.id}: {explain(request.slack_problem)}"
