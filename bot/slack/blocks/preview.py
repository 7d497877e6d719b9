"""What a request touches, as last read from SFVoPI, on its card (pure, tested as data): each
app to delete with its numbers (the first NUMBERS_SHOWN, the rest in the card's thread), each
number to unlink as linked or not; the posts it owes (the full list, targets already gone,
what changed before running). SFVoPI's text is inert (escaped) wherever shown."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.bound import NUMBERS_SHOWN, gone
from bot.core.models import Action, Request
from bot.core.preview import AppPreview, LinkState, NumberPreview, Purpose, StoredPreview
from bot.slack.blocks.text import MESSAGE_LIMIT, Block, clip, escape, inert, section, when

__all__ = [
    "APPS_SHOWN",
    "drift_line",
    "gone_notice",
    "preview_blocks",
    "preview_thread",
]

APPS_SHOWN = 10  # apps a card details; the rest summarised
POSTS_MAX = 20  # thread posts listing numbers; past this, the request's API view has them all


def preview_blocks(request: Request, stored: StoredPreview | None) -> list[Block]:
    """The card's preview section: unreadable, or what it touches (or touched); none until
    read (the card is updated once it is)."""
    if stored is None:
        return []
    preview = stored.preview
    ran = stored.purpose is Purpose.BEFORE_EXECUTION
    if preview.unreadable is not None:
        why = escape(inert(preview.unreadable))
        if ran:
            return [
                section(
                    f":warning: *Could not read SFVoPI before running:* {why}. It ran without "
                    "a pre-image: it cannot be undone."
                )
            ]
        return [
            section(f":warning: *Could not read SFVoPI:* {why}. Nobody has seen what it touches.")
        ]
    heading = (
        f"*What it touched* (read right before running, {when(stored.taken_at)})"
        if ran
        else f"*What it touches now* (read from SFVoPI {when(stored.taken_at)})"
    )
    if preview.action is Action.DELETE:
        lines = [_app_line(a) for a in preview.apps[:APPS_SHOWN]]
        rest = len(preview.apps) - APPS_SHOWN
        more = f"… and {rest} more apps (see the thread)" if rest > 0 else ""
    else:
        line = _undo_line if preview.action is Action.UNDO else _number_line
        lines = [line(n, ran) for n in preview.numbers[:NUMBERS_SHOWN]]
        rest = len(preview.numbers) - NUMBERS_SHOWN
        more = f"… and {rest} more numbers (each is a target above)" if rest > 0 else ""
    return [section(clip(heading + "\n" + "\n".join(lines), tail=more))]


def _app_line(app: AppPreview) -> str:
    where = f"`{escape(inert(app.app_id))}`"
    if not app.found:
        return f"• {where} does not exist: nothing to do"
    name = f" *{escape(inert(app.name))}*" if app.name else ""
    status = f" ({escape(inert(app.status))})" if app.status else ""
    count = len(app.numbers)
    if not count:
        return f"• {where}{name}{status}: no numbers are linked to it"
    shown = ", ".join(f"`{escape(inert(n))}`" for n in app.numbers[:NUMBERS_SHOWN])
    rest = count - NUMBERS_SHOWN
    more = f" … and {rest} more (see the thread)" if rest > 0 else ""
    noun = "this number" if count == 1 else f"these {count} numbers"
    return f"• {where}{name}{status}: deleting it unlinks {noun}: {shown}{more}"


def _number_line(n: NumberPreview, ran: bool = False) -> str:
    """As it is now, or (`ran`) as it was right before the run."""
    number, app = f"`{escape(inert(n.number))}`", f"`{escape(inert(n.app_id))}`"
    if n.state is LinkState.LINKED:
        return f"• {number} was linked to {app}" if ran else f"• {number} is linked to {app} now"
    if n.state is LinkState.NOT_IN_APP:
        verb = "was not" if ran else "is not"
        return f"• {number} {verb} linked to {app}: nothing to do"
    return f"• {app} {'did' if ran else 'does'} not exist: nothing to unlink from it"


def _undo_line(n: NumberPreview, ran: bool = False) -> str:
    """An undo's number: what it links again (never "nothing to do": not linked is what it
    puts right), as it is now or (`ran`) as it was right before the run."""
    number, app = f"`{escape(inert(n.number))}`", f"`{escape(inert(n.app_id))}`"
    if n.state is LinkState.LINKED:
        if ran:
            return f"• {number} was linked to {app} already"
        return f"• {number} is linked to {app} already: nothing to put back"
    if n.state is LinkState.NOT_IN_APP:
        if ran:
            return f"• {number} was not linked to {app}"
        return f"• {number} is not linked to {app} now: the undo links it again"
    if ran:
        return f"• {app} did not exist"
    return f"• {app} does not exist now: the undo recreates it first, if it deleted it"


def preview_thread(request: Request, stored: StoredPreview) -> list[str]:
    """Every number each app to delete routes, for the card's thread: posts of at most
    MESSAGE_LIMIT characters, at most POSTS_MAX of them."""
    lines = [f"Request #{request.id}: the numbers deleting each app unlinks (as read)"]
    for app in stored.preview.apps:
        if app.found and app.numbers:
            lines.append(f"*`{escape(inert(app.app_id))}`* ({len(app.numbers)}):")
            lines += [f"• `{escape(inert(n))}`" for n in app.numbers]
    posts: list[str] = []
    current = ""
    for line in lines:
        if len(current) + len(line) + 1 > MESSAGE_LIMIT:
            posts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        posts.append(current)
    if len(posts) > POSTS_MAX:
        left = len(posts) - POSTS_MAX + 1
        rest = f"… and {left} more posts' worth: `GET /api/v1/requests/{request.id}` has all"
        posts = [*posts[: POSTS_MAX - 1], rest]
    return posts


def gone_notice(request: Request, stored: StoredPreview) -> str:
    """The requester told at once which targets are already gone (the rest still wait)."""
    lines = "\n".join(f"• {escape(inert(line))}" for line in gone(stored.preview))
    return clip(
        f":information_source: Request #{request.id}: SFVoPI shows some targets already gone:\n"
        f"{lines}",
        MESSAGE_LIMIT,
    )


def drift_line(request: Request, changes: Sequence[str]) -> str:
    """The card's thread told why the approved request did not run, and what to do."""
    lines = "\n".join(f"• {escape(inert(c))}" for c in changes)
    return clip(
        f":warning: Request #{request.id} did not run: what it touches changed since it was "
        f"approved:\n{lines}",
        MESSAGE_LIMIT,
        tail="The approvals given no longer count: the card shows it as it is now, for "
        "approval again.",
    )
