"""Undo in Block Kit (pure): the Undo button under a finished request's card and in its
requester's notice, or the line saying why there is none, or which request undoes it; and how
an undo's own targets read. The button's value is only a request number: every rule is checked
again when it is clicked (handlers/undo.py)."""

from __future__ import annotations

from bot.core.models import Request, TargetState
from bot.core.undo import Offer
from bot.slack.blocks.text import Block, clip, context, section, when

__all__ = ["UNDO", "undo_blocks", "undo_target", "undo_title", "with_undo"]

UNDO = "sfvopi_undo"


def undo_blocks(request: Request, offer: Offer | None) -> list[Block]:
    """The Undo button while it is offered (with until when), or the line saying why not."""
    if offer is None:
        return []
    if offer.until is None:
        return [context(offer.line)] if offer.line else []
    # no Slack `confirm` (the card's rule: Slack would ask before the bot hears the click);
    # none is needed either: a click only files the undo, which waits for its approvals
    button: Block = {
        "type": "button",
        "action_id": UNDO,
        "text": {"type": "plain_text", "text": "Undo"},
        "value": str(request.id),
    }
    return [
        # a new block_id per window, so an update that drops or changes it is shown
        {
            "type": "actions",
            "block_id": f"sfvopi_undo_{request.id}.{int(offer.until)}",
            "elements": [button],
        },
        context(f"Undo is offered until {when(offer.until)} (`/sfvopi undo {request.id}`)"),
    ]


def with_undo(text: str, request: Request, offer: Offer | None) -> list[Block] | None:
    """The requester's notice with the Undo button under it; None when none is offered."""
    if offer is None or offer.until is None:
        return None
    return [section(clip(text)), *undo_blocks(request, offer)]


def undo_title(request: Request) -> str:
    count = len(request.targets)
    return (
        f"Undo request #{request.undoes} ({count} target{'s' if count != 1 else ''}) "
        f"— request #{request.id}"
    )


def undo_target(state: TargetState) -> str:
    """What one undo target does: a number linked back, or an app recreated (with its new
    app_id, said plainly once it is known)."""
    t = state.target
    if t.number is not None:
        return f"`{t.number}` back on `{t.app_id}`"
    new = f" as `{state.new_app_id}` (a new app_id)" if state.new_app_id else " (a new app_id)"
    return f"`{t.app_id}` recreated{new}"
