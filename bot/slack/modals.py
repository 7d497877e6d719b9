"""The modal that confirms a decision (Approve, Deny) and asks why (Deny, Cancel) or for a
note (Approve) when the policy wants a text, and reading it back.

Pure functions, tested as data. The form shows what the request touches as last read from
SFVoPI (the card's preview section) and carries that preview's seq, the one an approval
submitted through it is bound to. What comes back in a `view_submission` is untrusted: only
the request number, where the click came from and that seq are read from `private_metadata`,
each checked, and the typed text is length-checked; everything else is decided from the store
again (an approval whose seq is no longer the newest is refused there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.core import ids
from bot.core.models import Request
from bot.core.org import Need
from bot.core.preview import StoredPreview
from bot.core.text import json_object
from bot.core.workflow import MAX_NOTE, Decision
from bot.errors import InvalidId
from bot.slack import blocks
from bot.slack.blocks import Block

CALLBACKS = {
    Decision.DENY: "sfvopi_deny_reason",
    Decision.CANCEL: "sfvopi_cancel_reason",
    Decision.APPROVE: "sfvopi_approve_note",
}
TEXT_BLOCK = "sfvopi_text"
TEXT_ACTION = "text"
HOME = "home"  # `where` for a click on the App Home (there is no channel to answer in)

TARGETS_SHOWN = 10
NOT_READ = (
    "*What it touches* has not been read from SFVoPI yet: the card shows it once it is. "
    "An approval given now is refused if it is read before you press the button."
)
MAX_SEQ = 2**31 - 1  # a preview's seq as the form carries it back; 0: none was shown
_CONSEQUENCE = {
    Decision.APPROVE: "Your approval counts once you press Approve; once the approvals needed "
    "are in, it runs at once and cannot be undone.",
    Decision.DENY: "Once you press Deny, it is closed and will not run.",
    Decision.CANCEL: "Once you press Cancel request, it is withdrawn and will not run.",
}
_WORDS = {
    Decision.DENY: ("Deny", "Why deny it?", "Deny"),
    Decision.CANCEL: ("Cancel", "Why cancel it?", "Cancel request"),
    Decision.APPROVE: ("Approve", "A note for the record", "Approve"),
}


@dataclass(frozen=True)
class Submission:
    decision: Decision
    request_id: int
    where: str  # a channel id, or HOME
    text: str
    field: bool  # whether the form has the text field (a refusal is shown under it)
    preview: int = 0  # the seq of the preview the form showed (0: none was read yet)


def decision_modal(
    decision: Decision,
    request: Request,
    need: Need,
    *,
    where: str,
    preview: StoredPreview | None = None,
) -> Block:
    """The form that confirms one decision on one request, opened by the bot once the rules
    let the clicker decide: what is decided (action, targets, requester, reason), what it
    touches as last read (`preview`, None: not read yet), and the text field unless the
    policy asks for none (`need`)."""
    verb, label, submit = _WORDS[decision]
    seen = blocks.preview_blocks(request, preview) or [blocks.section(NOT_READ)]
    shown = [*summary(request), *seen, blocks.context(_CONSEQUENCE[decision])]
    if need is not Need.NONE:
        shown.append(_field(request, need, label))
    return {
        "type": "modal",
        "callback_id": CALLBACKS[decision],
        "private_metadata": metadata(request.id, where, preview.seq if preview else 0),
        "title": {"type": "plain_text", "text": f"{verb} request #{request.id}"[:24]},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": shown,
    }


def summary(request: Request) -> list[Block]:
    """What a decision is about, each part clipped to a section of its own."""
    reason = "*Reason*\n"
    return [
        blocks.section(
            f"*{blocks.escape(blocks.title(request))}* in {blocks.escape(request.org)}\n"
            f"asked by {blocks.user(request.requester)} · "
            f"approvals {blocks.approvals_text(request)}"
        ),
        blocks.section(
            blocks.targets_text(request.targets, limit=TARGETS_SHOWN, heading="*Targets*\n")
        ),
        blocks.section(reason + blocks.quoted(request.reason, blocks.SECTION_LIMIT - len(reason))),
    ]


def _field(request: Request, need: Need, label: str) -> Block:
    field: Block = {
        "type": "input",
        "block_id": TEXT_BLOCK,
        "optional": need is not Need.REQUIRED,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": TEXT_ACTION,
            "multiline": True,
            "max_length": MAX_NOTE,
            "placeholder": {"type": "plain_text", "text": "e.g. the incident or ticket number"},
        },
    }
    if need is Need.REQUIRED:
        field["hint"] = {
            "type": "plain_text",
            "text": f"Required by the policy of {request.org}."[:150],
        }
    return field


def read_submission(view: object) -> Submission | None:
    """The decision a submitted view asks for, or None when the view is not one of ours as we
    built it (unknown callback, request number or place not ours to read, a text field not
    ours). A form without the field reads as "" (the workflow refuses that where the policy
    requires a text)."""
    if not isinstance(view, dict):
        return None
    decision = next((d for d, c in CALLBACKS.items() if c == view.get("callback_id")), None)
    place = read_place(view)
    seq = _seen(view)
    values = _values(view.get("state"))
    if decision is None or place is None or seq is None or values is None:
        return None
    request_id, where = place
    field = TEXT_BLOCK in values
    text = _typed(values) if field else ""
    if text is None:
        return None
    return Submission(decision, request_id, where, text, field, seq)


def metadata(request_id: int, where: str, preview: int | None = None) -> str:
    """The `private_metadata` of a form about one request: which request, and where from (and
    for a decision form, the seq of the preview it shows, 0 for none)."""
    named: dict[str, object] = {"request": request_id, "where": where}
    if preview is not None:
        named["preview"] = preview
    return json.dumps(named)


def read_place(view: dict[str, Any]) -> tuple[int, str] | None:
    """The request number and place a submitted view's `private_metadata` names (as
    `metadata` wrote it), each checked; None when it is not that."""
    named = _named(view)
    if named is None:
        return None
    try:
        request_id = ids.request_id(str(named.get("request")))
        where = str(named.get("where"))
        if where != HOME:
            where = ids.channel_id(where)
    except InvalidId:
        return None
    return request_id, where


def _seen(view: dict[str, Any]) -> int | None:
    """The preview seq a decision form's `private_metadata` carries, if it is one."""
    named = _named(view)
    seq = named.get("preview") if named is not None else None
    return seq if type(seq) is int and 0 <= seq <= MAX_SEQ else None


def _named(view: dict[str, Any]) -> dict[str, Any] | None:
    raw = view.get("private_metadata")
    if not isinstance(raw, str) or len(raw) > 200:
        return None
    return json_object(raw)


def typed(state: Any) -> str | None:
    """The text field's value in a submitted view's `state`; None when not our field's shape."""
    values = _values(state)
    return None if values is None else _typed(values)


def _values(state: Any) -> dict[str, Any] | None:
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else None


def _typed(values: dict[str, Any]) -> str | None:
    """The text field's value ("" when left empty); None when it is not our field's shape."""
    block = values.get(TEXT_BLOCK)
    field = block.get(TEXT_ACTION) if isinstance(block, dict) else None
    if not isinstance(field, dict):
        return None
    value = field.get("value")
    if value is None:
        return ""
    return value if isinstance(value, str) else None


def errors(message: str) -> dict[str, Any]:
    """The ack that keeps the modal open with `message` under the text field."""
    return {"response_action": "errors", "errors": {TEXT_BLOCK: message[:300]}}


def refused(said: str, *, field: bool) -> dict[str, Any]:
    """The ack for a submission that did not go through (`said` as the clicker is told it):
    under the text field if the form has one (Slack places errors only under input blocks),
    else the form turned into the answer."""
    if field:
        return errors(said.removeprefix(":warning: ").removeprefix(":hourglass: "))
    return _answer("Nothing changed", said)


def changed(request_id: int, changes: list[str]) -> dict[str, Any]:
    """The ack for an approval submitted on a preview that is no longer the newest: the form
    turned into what changed (SFVoPI's words made inert) and where to look again."""
    lines = "\n".join(f"• {blocks.escape(blocks.inert(c))}" for c in changes)
    said = blocks.clip(
        f":warning: What request #{request_id} touches changed since you opened this:\n{lines}",
        tail="Nothing was recorded. Open it again from the card to see it as it is now.",
    )
    return _answer("It changed", said)


def _answer(title: str, said: str) -> dict[str, Any]:
    """The ack that turns the form into `said`, with nothing left to submit."""
    return {
        "response_action": "update",
        "view": {
            "type": "modal",
            "title": {"type": "plain_text", "text": title},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [blocks.section(said)],
        },
    }
