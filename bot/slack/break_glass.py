"""The break-glass card and its messages, as pure Block Kit (tested as data).

A request run by one person without approval shows as a loud card (a siren header, the red
danger button; Block Kit gives blocks no colour): who broke glass, the incident, why, each
target's result, and Acknowledge / Flag for an approver to review it. The Flag form asks why;
what it sends back is untrusted (only the request number and the place are read from
`private_metadata`, each checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.models import Action, Request, Review, Status
from bot.core.preview import StoredPreview
from bot.core.undo import Offer
from bot.core.workflow import MAX_NOTE
from bot.slack import blocks, modals
from bot.slack.blocks import Block
from bot.slack.blocks.preview import preview_blocks
from bot.slack.modals import TEXT_ACTION, TEXT_BLOCK, read_place

ACKNOWLEDGE = "sfvopi_review_ack"
FLAG = "sfvopi_review_flag"
BUTTONS = (ACKNOWLEDGE, FLAG)
VERDICTS = {ACKNOWLEDGE: Review.ACKNOWLEDGED, FLAG: Review.FLAGGED}
FLAG_CALLBACK = "sfvopi_review_flag_reason"
SIREN = ":rotating_light:"

STATE = {
    Status.EXECUTING: ":gear: Running now, without approval",
    Status.SUCCEEDED: ":white_check_mark: Ran without approval: done",
    Status.FAILED: ":x: Ran without approval: failed",
    Status.UNKNOWN: ":grey_question: Ran without approval: outcome unknown",
}


def title(request: Request) -> str:
    return f"{SIREN} Break-glass: {blocks.title(request)}"


def card_text(request: Request) -> str:
    """The notification fallback: what a phone shows for the card."""
    state = STATE.get(request.status, request.status.value).split(" ", 1)[-1].lower()
    return f"Break-glass {blocks.title(request)} by {blocks.user(request.requester)}: {state}"


def incident(request: Request) -> str:
    return f"`{blocks.escape(request.incident)}`" if request.incident else "none given"


def card(
    request: Request,
    *,
    escalate_to: Sequence[str] = (),
    approvers: Sequence[str] = (),
    undo: Offer | None = None,
    preview: StoredPreview | None = None,
) -> list[Block]:
    """The siren card: what one person did without approval, what it touched (`preview`: the
    read right before the run, so the reviewer sees what nobody approved), and its review
    (buttons while it waits for one and the run has finished; when it is due and to whom it
    is escalated); Undo while `undo` offers it."""
    shown: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(request)[:150]}},
        _section(f"*{STATE.get(request.status, request.status.value)}*"),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Broke glass*\n{blocks.user(request.requester)}"},
                {"type": "mrkdwn", "text": f"*Incident*\n{incident(request)}"},
                {"type": "mrkdwn", "text": f"*Organization*\n{blocks.escape(request.org)}"},
                {"type": "mrkdwn", "text": f"*Action*\n{request.action.value}"},
            ],
        },
        _section(
            "*Targets*\n" + blocks.targets_text(request.targets, undo=request.action is Action.UNDO)
        ),
        *preview_blocks(request, preview),
        _section("*Reason*"),
        {"type": "section", "text": blocks.plain(request.reason)},
        {"type": "divider"},
        _section(review_line(request)),
    ]
    if request.review is Review.PENDING and request.status.final:
        shown.append(review_buttons(request))
    if request.review is Review.PENDING and request.review_due_at is not None:
        to = blocks.mentions(escalate_to or approvers) or "the approvers"
        if request.review_escalated:
            shown.append(_context(f"{SIREN} Review overdue: escalated to {to}"))
        else:
            due = blocks.when(request.review_due_at)
            shown.append(_context(f"If unreviewed by {due}, it is escalated to {to}"))
    shown.append(
        _context(
            f"Request #{request.id} · broke glass {blocks.when(request.created_at)}"
            + (f" · finished {blocks.when(request.finished_at)}" if request.finished_at else "")
            + " · the person who broke glass cannot review it"
        )
    )
    shown.extend(blocks.undo_blocks(request, undo))
    return shown


def review_line(request: Request) -> str:
    """Where the review stands, in one line."""
    if request.review is Review.ACKNOWLEDGED and request.reviewed_by:
        return f":ballot_box_with_check: *Acknowledged by {blocks.user(request.reviewed_by)}*"
    if request.review is Review.FLAGGED and request.reviewed_by:
        why = blocks.quoted(request.review_note or "")
        return f":triangular_flag_on_post: *Flagged by {blocks.user(request.reviewed_by)}*: {why}"
    if not request.status.final:
        return ":eyes: *Review needed* once it has run: an approver acknowledges or flags it"
    return ":eyes: *Review needed*: an approver acknowledges it, or flags it and says why"


def review_buttons(request: Request) -> Block:
    rid = str(request.id)
    return {
        "type": "actions",
        "block_id": f"sfvopi_review_{request.id}",
        "elements": [
            blocks.button(ACKNOWLEDGE, "Acknowledge", rid, "primary"),
            blocks.button(FLAG, "Flag", rid, "danger"),
        ],
    }


def broke_glass_ack(request: Request, channel: str) -> str:
    """What the person who broke glass is told at once, as their command's answer."""
    return (
        f"{SIREN} Request *#{request.id}* ({blocks.title(request).split(' — ')[0].lower()}) "
        f"broke glass (incident {incident(request)}): it runs now, without approval. Its card "
        f"is in <#{channel}>, where an approver reviews it. Check it with "
        f"`/sfvopi status {request.id}`."
    )


def review_thread(request: Request) -> str:
    """The review, in the card's thread."""
    return f"{blocks.user(request.requester)} {_reviewed(request)}"


def review_notice(request: Request) -> str:
    """The review, to the person who broke glass."""
    return f"Your break-glass {_reviewed(request)}"


def _reviewed(request: Request) -> str:
    by = blocks.user(request.reviewed_by or "")
    what = f"request #{request.id} ({blocks.title(request).split(' — ')[0].lower()})"
    if request.review is Review.FLAGGED:
        return (
            f":triangular_flag_on_post: {what} was *flagged* by {by}: "
            f"{blocks.quoted(request.review_note or '')}"
        )
    return f":ballot_box_with_check: {what} was *acknowledged* by {by}."


def escalation_thread(request: Request, to: Sequence[str]) -> str:
    """The overdue review, in the card's thread, mentioning whom it goes to."""
    return (
        f"{SIREN} Review overdue: {blocks.user(request.requester)} broke glass on request "
        f"#{request.id} (incident {incident(request)}) {blocks.when(request.created_at)} and no "
        f"approver has reviewed it. {blocks.mentions(to)}: please acknowledge or flag it."
    )


def escalation_post(request: Request, link: str | None) -> str:
    """The overdue review, in a channel or to a person named in `escalate_to`."""
    where = f"<{link}|Open the card>" if link else "Open the card in its approval channel"
    return (
        f"{SIREN} Review overdue: {blocks.user(request.requester)} broke glass on request "
        f"#{request.id} in *{blocks.escape(request.org)}* ({blocks.title(request)}, incident "
        f"{incident(request)}) {blocks.when(request.created_at)}; nobody has reviewed it. "
        f"{where}."
    )


# -- the Flag form ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Flagged:
    request_id: int
    where: str  # a channel id, or HOME
    text: str


def flag_modal(request: Request, *, where: str) -> Block:
    """The form asking why a break-glass request is flagged (required)."""
    shown = (
        f"*{blocks.escape(blocks.title(request))}* in {blocks.escape(request.org)}: "
        f"{blocks.user(request.requester)} broke glass (incident {incident(request)})\n"
        f"{blocks.targets_text(request.targets, limit=5)}\nreason: {blocks.quoted(request.reason)}"
    )
    return {
        "type": "modal",
        "callback_id": FLAG_CALLBACK,
        "private_metadata": modals.metadata(request.id, where),
        "title": {"type": "plain_text", "text": f"Flag request #{request.id}"[:24]},
        "submit": {"type": "plain_text", "text": "Flag"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [
            blocks.message_blocks(shown)[0],
            {
                "type": "input",
                "block_id": TEXT_BLOCK,
                "label": {"type": "plain_text", "text": "Why flag it?"},
                "hint": {
                    "type": "plain_text",
                    "text": "It goes on the card, in its thread and to the person who broke glass.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": TEXT_ACTION,
                    "multiline": True,
                    "max_length": MAX_NOTE,
                },
            },
        ],
    }


def read_flag(view: object) -> Flagged | None:
    """The flag a submitted view asks for, or None when the view is not our form as built."""
    if not isinstance(view, dict) or view.get("callback_id") != FLAG_CALLBACK:
        return None
    place = read_place(view)
    text = modals.typed(view.get("state"))
    if place is None or text is None:
        return None
    return Flagged(*place, text)


def _section(text: str) -> Block:
    return blocks.message_blocks(text)[0]


def _context(text: str) -> Block:
    return blocks.context(text)
