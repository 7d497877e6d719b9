"""Approve, Deny and Cancel: ack at once, then decide from the store, never from the button."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import ids
from bot.core.models import Status
from bot.errors import InvalidId, RecordingDelayed, Refusal, RequestNotFound
from bot.slack import blocks
from bot.slack.services import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    async def on_click(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        services.background.spawn(click(services, body, action), name="click")

    for action_id in blocks.BUTTONS:
        app.action(action_id)(on_click)


async def click(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Runs one click after its ack; a refusal is told to the clicker alone and changes nothing."""
    user = _text(body.get("user"), "id")
    channel = _text(body.get("channel"), "id") or _text(body.get("container"), "channel_id")
    try:
        request_id = ids.request_id(_text(action, "value"))
    except InvalidId:
        await services.notifier.tell(channel, user, "That button does not name a request.")
        return
    workflow = services.workflow
    try:
        match action.get("action_id"):
            case blocks.APPROVE:
                request = await workflow.approve(request_id, approver=user)
                if request.status is Status.PENDING:
                    await services.notifier.tell(
                        channel,
                        user,
                        f"You approved request #{request_id} "
                        f"({len(request.approvals)} of {request.approvals_needed}); it runs "
                        "when another approver agrees.",
                    )
            case blocks.DENY:
                await workflow.deny(request_id, approver=user)
            case blocks.CANCEL:
                await workflow.cancel(request_id, user=user)
    except RequestNotFound:
        await services.notifier.tell(
            channel,
            user,
            f":warning: there is no request #{request_id} in your organizations; if you see "
            "its card, it belongs to an organization you are not a member of (an admin of "
            "that organization can add you).",
        )
    except Refusal as exc:
        await services.notifier.tell(channel, user, f":warning: {exc.message}")
    except RecordingDelayed as exc:
        await services.notifier.tell(channel, user, f":hourglass: {exc.message}")
    except Exception:
        log.exception("click on request %s failed", request_id)
        await services.notifier.tell(
            channel, user, ":warning: something went wrong on our side; try again in a minute."
        )
    clicked = _text(body.get("container"), "message_ts")
    if clicked and await workflow.may_decide(request_id, user):
        await services.notifier.retire_duplicate(
            request_id, channel, clicked, body.get("message"), services.bot_user_id
        )


def _text(container: object, key: str) -> str:
    """`container[key]` when it is a string in a dict; payload fields are untrusted shapes."""
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, str) else ""
