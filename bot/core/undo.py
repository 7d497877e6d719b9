"""Undo, as pure rules: whether a request may be undone now, what its undo does, and what its
card offers. An undo is a request of its own (Action.UNDO, `undoes` naming the one it takes
back), filed, approved and run by the same workflow (bot/core/workflow/undoing.py).

What an undo puts back comes from the pre-image read right before the request ran (never from
what was filed): undoing an unlink links each number it unlinked to its app again; undoing a
delete recreates the app from its fields (SFVoPI gives it a new app_id) and links its numbers
to the new app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.models import Action, Outcome, Request, Status, Target
from bot.core.preview import PreImage, Preview

__all__ = [
    "WITHDRAWN",
    "Offer",
    "adoptable",
    "done",
    "offer",
    "phases",
    "plan",
    "pre_image_of",
    "recreated_app",
    "refusal",
    "undid",
    "undo_reason",
    "window_ends",
]

WITHDRAWN = (Status.DENIED, Status.CANCELLED, Status.EXPIRED)
"""An undo in one of these never ran: the request may be undone again."""

CLOCK_SKEW = 60.0
"""Seconds SFVoPI's clock may run behind ours when an app it created is looked for by its
creation time (after a crash, or an answer that never came)."""


def window_ends(request: Request, window_hours: int) -> float | None:
    """When Undo stops being offered: the window after the request finished."""
    if request.finished_at is None:
        return None
    return request.finished_at + 3600 * window_hours


def refusal(request: Request, window_hours: int, now: float) -> str | None:
    """Why `request` may not be undone now, in words for its reader; None when it may. The
    live undo (`request.undo`) and the pre-image (`request.pre_image`) are the store's."""
    rid = request.id
    if request.undoes is not None:
        return f"request #{rid} is itself an undo (of #{request.undoes}); it cannot be undone"
    if not (request.status.ran and request.status.final):
        return f"request #{rid} {request.status.phrase}: only a request that ran can be undone"
    if not done(request):
        return f"request #{rid} changed nothing in SFVoPI, so there is nothing to undo"
    if request.undo is not None:
        undo_id, state = request.undo
        if state is Status.SUCCEEDED:
            return f"request #{rid} is already undone (by request #{undo_id})"
        return f"request #{rid} is already being undone by request #{undo_id} ({state.value})"
    if not request.pre_image:
        return (
            f"request #{rid} cannot be undone: no pre-image was recorded before it ran, so the "
            "bot does not know what to put back"
        )
    ends = window_ends(request, window_hours)
    if ends is not None and now >= ends:
        return (
            f"request #{rid} can no longer be undone: its undo window ({window_hours} h) "
            f"closed at {_utc(ends)}"
        )
    return None


def done(request: Request) -> list[Target]:
    """The targets the request changed: only those are put back."""
    return [t.target for t in request.targets if t.outcome is Outcome.DONE]


def plan(request: Request, pre_image: Preview) -> list[Target]:
    """The undo's targets: for an unlink, each number it unlinked, on its app; for a delete,
    each app it deleted (recreated from the pre-image) followed by the numbers the pre-image
    shows linked to it. Empty when the pre-image holds nothing to put back."""
    changed = done(request)
    if request.action is Action.UNLINK:
        return changed
    images = {image.app_id: image for image in pre_image.pre_images()}
    targets: list[Target] = []
    for target in changed:
        image = images.get(target.app_id)
        if image is None or image.fields is None:
            continue
        targets.append(Target(target.app_id))
        targets.extend(Target(target.app_id, number) for number in image.numbers)
    return targets


def pre_image_of(pre_image: Preview, app_id: str) -> PreImage | None:
    """What the pre-image holds for one app (its fields, its numbers), if anything."""
    return next((i for i in pre_image.pre_images() if i.app_id == app_id), None)


def phases(request: Request) -> list[list[int]]:
    """The unfinished targets' indexes, in the order they may run: an undo's recreated apps
    before the numbers linked to them; every other request's all at once."""
    waiting = [i for i, t in enumerate(request.targets) if t.outcome is None]
    if request.action is not Action.UNDO:
        return [waiting]
    apps = [i for i in waiting if request.targets[i].target.number is None]
    return [apps, [i for i in waiting if i not in apps]]


def recreated_app(request: Request, app_id: str) -> tuple[bool, str | None]:
    """For an undo's number on `app_id`: whether the undo recreates that app, and its new id
    as recorded (None: not recreated, or not yet)."""
    for state in request.targets:
        if state.target.number is None and state.target.app_id == app_id:
            return True, state.new_app_id
    return False, None


def adoptable(apps: Iterable[tuple[str, str, str | None]], name: str, since: float) -> list[str]:
    """Of (app_id, name, created_at ISO 8601) listed by SFVoPI, the apps named `name` created
    at or after `since` (less the clock skew allowed): what an earlier create attempt may have
    made. One is adopted; none or several are not established."""
    found = []
    for app_id, app_name, created_at in apps:
        at = _epoch(created_at)
        if app_name == name and at is not None and at >= since - CLOCK_SKEW:
            found.append(app_id)
    return found


def undid(undo: Request) -> Action:
    """What an undo takes back: a delete when it recreates an app, else an unlink."""
    recreates = any(t.target.number is None for t in undo.targets)
    return Action.DELETE if recreates else Action.UNLINK


def undo_reason(original: Request, reason: str) -> str:
    said = " ".join(reason.split())
    return f"undo of request #{original.id}" + (f": {said}" if said else "")


@dataclass(frozen=True)
class Offer:
    """What a finished request's card and its requester's notice say about undo: a button
    until `until`, or a line saying why there is none, or which request undoes it."""

    until: float | None = None  # the Undo button is shown, until then
    line: str = ""  # what is said instead of, or beside, the button


def offer(request: Request, window_hours: int, now: float) -> Offer | None:
    """None for a request that has nothing to say about undo (not finished, an undo itself,
    or nothing changed)."""
    if request.undoes is not None or not (request.status.ran and request.status.final):
        return None
    if not done(request):
        return None
    if request.undo is not None:
        undo_id, state = request.undo
        if state is Status.SUCCEEDED:
            return Offer(line=f":leftwards_arrow_with_hook: Undone by request #{undo_id}")
        return Offer(line=f":leftwards_arrow_with_hook: Undo requested: request #{undo_id}")
    why = refusal(request, window_hours, now)
    if why is not None:
        return Offer(line=f"No undo: {why.split(': ', 1)[-1]}")
    return Offer(until=window_ends(request, window_hours))


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
