"""The modal that asks why (Deny, Cancel) or for a note (Approve), and reading it back.

Pure functions, tested as data. What comes back in a `view_submission` is untrusted: only the
request number and where the click came from are read from `private_metadata`, each checked,
and the typed text is length-checked; everything else is decided from the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.core import ids
from bot.core.models import Request
from bot.core.org import Need
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


def decision_modal(decision: Decision, request: Request, need: Need, *, where: str) -> Block:
    """The modal for one decision on one request; `need` says whether the text is required."""
    verb, label, submit = _WORDS[decision]
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
    shown = (
        f"*{blocks.escape(blocks.title(request))}* in {blocks.escape(request.org)}, asked by "
        f"{blocks.user(request.requester)}\n{blocks.targets_text(request.targets, limit=5)}\n"
        f"reason: {blocks.quoted(request.reason)}"
    )
    return {
        "type": "modal",
        "callback_id": CALLBACKS[decision],
        "private_metadata": json.dumps({"request": request.id, "where": where}),
        "title": {"type": "plain_text", "text": f"{verb} request #{request.id}"[:24]},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [blocks.message_blocks(shown)[0], field],
    }


def read_submission(view: object) -> Submission | None:
    """The decision a submitted view asks for, or None when the view is not one of ours as we
    built it (unknown callback, request number or place not ours to read, no text field)."""
    if not isinstance(view, dict):
        return None
    decision = next((d for d, c in CALLBACKS.items() if c == view.get("callback_id")), None)
    raw = view.get("private_metadata")
    if decision is None or not isinstance(raw, str) or len(raw) > 200:
        return None
    try:
        metadata = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(metadata, dict):
        return None
    try:
        request_id = ids.request_id(str(metadata.get("request")))
        where = str(metadata.get("where"))
        if where != HOME:
            where = ids.channel_id(where)
    except InvalidId:
        return None
    text = _typed(view.get("state"))
    if text is None:
        return None
    return Submission(decision, request_id, where, text)


def _typed(state: Any) -> str | None:
    """The text field's value ("" when left empty); None when the state is not our form's."""
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(TEXT_BLOCK) if isinstance(values, dict) else None
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
