"""Who acts and on which request, for every line logged while a Slack request is handled.

A Bolt middleware: the actor (a Slack user id) and, for a button, the request number it names
are bound in the log context (`bot.observability.context`) before any listener runs; the work
a listener spawns carries them too. Both are checked shapes: never free text from the body.
Bound, not scoped: Bolt runs listeners after its middleware returns, and each Slack request is
handled in a task of its own (aiohttp's per request, the Socket Mode client's per envelope),
so the fields end with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp

from bot.core import ids
from bot.errors import InvalidId
from bot.observability.context import bind
from bot.slack.after_ack import after_ack_of
from bot.slack.services import Services

T = TypeVar("T")


def register(app: AsyncApp) -> None:
    async def bind_log_context(body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> None:
        bind(actor=actor_of(body), request_id=request_of(body))
        await next_()

    app.use(bind_log_context)


def answering(services: Services, context: Mapping[str, Any]) -> Services:
    """The parts as this request's listener uses them: what it starts, and what its changes
    start, waits for the ack the front door sends (the door's AfterAck, in Bolt's context)."""
    return services.answering(after_ack_of(context))


def actor_of(body: object) -> str | None:
    """The Slack user behind a command, click, view or event, if it has a user id's shape."""
    if not isinstance(body, dict):
        return None
    user = body.get("user_id") or body.get("user")
    if isinstance(user, dict):
        user = user.get("id")
    event = body.get("event")
    if user is None and isinstance(event, dict):
        user = event.get("user")
    return _checked(ids.user_id, user)


def request_of(body: object) -> int | None:
    """The request a button names (its value), if it is a request number."""
    actions = body.get("actions") if isinstance(body, dict) else None
    first = actions[0] if isinstance(actions, list) and actions else None
    value = first.get("value") if isinstance(first, dict) else None
    return _checked(ids.request_id, value)


def _checked(parse: Callable[[str], T], value: object) -> T | None:
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except InvalidId:
        return None
