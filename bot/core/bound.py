"""The pure rules of an approval bound to what was seen: which preview the approvals were
given on, what stops a run, which targets are already gone, and what a preview owes Slack.
No client, no store: the card (bot/slack/blocks/preview.py) and the binding share them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core import ids
from bot.core.deliveries import Kind
from bot.core.models import Action, Request
from bot.core.preview import LinkState, Preview, StoredPreview, changes

__all__ = ["NUMBERS_SHOWN", "approved_on", "gone", "owed_with", "stops", "unseen"]

NUMBERS_SHOWN = 20  # numbers a card lists per app; the rest in the card's thread


def approved_on(previews: Sequence[StoredPreview]) -> StoredPreview | None:
    """The preview the approvals were given on: the newest shown on the card (filed, or
    rebound after a drift), never a pre-image read as a run began."""
    shown = [p for p in previews if p.purpose.binds]
    return shown[-1] if shown else None


def unseen(previews: Sequence[StoredPreview], seen: int) -> list[str]:
    """What an approver's form did not show, in plain words: the change from the preview it
    showed (seq `seen`, 0 when none was read yet) to the newest one an approval binds to."""
    newest = approved_on(previews)
    shown = next((p for p in previews if p.seq == seen and p.purpose.binds), None)
    if newest is not None and shown is not None:
        return changes(shown.preview, newest.preview) or ["SFVoPI was read again"]
    return ["the form named a preview this request does not have"]


def stops(approved: Preview | None, now: Preview, *, rebind: bool) -> list[str]:
    """What changed since the approvals, in plain words, when that stops the run; [] runs it.
    Nothing to compare with (never read), SFVoPI unreadable now (an incident is not blocked),
    or a policy that does not rebind: it runs."""
    if not rebind or approved is None or now.unreadable is not None:
        return []
    return changes(approved, now)


def gone(preview: Preview) -> list[str]:
    """The targets already gone, each as the requester is told: nothing to do for them (an
    undo's numbers not linked now are what it puts back: none)."""
    if preview.action is Action.UNDO:
        return []
    if preview.action is Action.DELETE:
        missing = [a.app_id for a in preview.apps if not a.found]
        return [f"app {app} does not exist: nothing to do" for app in missing]
    lines = []
    for n in preview.numbers:
        if n.state is LinkState.NOT_IN_APP:
            lines.append(f"{n.number} is not linked to {n.app_id}: nothing to do")
        elif n.state is LinkState.APP_NOT_FOUND:
            lines.append(f"app {n.app_id} does not exist: nothing to unlink from it")
    return list(dict.fromkeys(lines))


def owed_with(request: Request, preview: Preview) -> list[tuple[Kind, str]]:
    """The posts a preview makes owed: the full list of numbers in the card's thread when the
    card cannot show them all; the requester told of targets already gone (a person: an API
    client reads the preview from the API)."""
    owed: list[tuple[Kind, str]] = []
    if any(len(a.numbers) > NUMBERS_SHOWN for a in preview.apps):
        owed.append((Kind.PREVIEW_LISTED, "thread"))
    if gone(preview) and not ids.is_service(request.requester):
        owed.append((Kind.PREVIEW_GONE, "requester"))
    return owed
