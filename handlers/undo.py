"""Undo in Slack: `/sfvopi undo 17 [--break-glass INC] [reason]` and the Undo button on a
finished request's card and in its requester's notice. Both file the same undo through the
workflow, which checks every rule again (the button's value is only a request number)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.models import Request
from bot.slack import blocks
from bot.slack.grammar import Command
from bot.slack.services import Services
from handlers.actions import button_request, clicked_after_ack, refusal_text, tell
from handlers.break_glass import run_claimed

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    app.action(blocks.UNDO)(clicked_after_ack(services, click, "undo-click"))


async def command(services: Services, cmd: Command, payload: dict[str, Any]) -> dict[str, Any]:
    """`/sfvopi undo N`: the undo filed (run after the ack when it breaks glass)."""
    assert cmd.request_id is not None
    user = str(payload.get("user_id", ""))
    filed = await services.workflow.undoing.file(
        cmd.request_id,
        requester=user,
        reason=cmd.reason,
        channel=payload.get("channel_id"),
        response_url=payload.get("response_url"),
        dedupe_key=f"slack:{payload['trigger_id']}" if payload.get("trigger_id") else None,
        break_glass=cmd.break_glass,
    )
    if filed.claim is not None:
        where = str(payload.get("channel_id") or "")
        services.spawn(
            run_claimed(services, filed.request.id, filed.claim, where, user),
            name=f"run-{filed.request.id}",
        )
    text = filed_text(services, filed.request, cmd.request_id)
    return {"text": text, "blocks": blocks.message_blocks(text)}


async def click(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """The Undo button: files the undo as its clicker; what came of it is told to them."""
    user, where, request_id = await button_request(services, body, action)
    if request_id is None:
        return
    try:
        filed = await services.workflow.undoing.file(request_id, requester=user)
        text = filed_text(services, filed.request, request_id)
    except Exception as exc:
        text = refusal_text(exc, request_id)
    await tell(services, where, user, text)


def filed_text(services: Services, undo: Request, original: int) -> str:
    if undo.break_glass:
        return (
            f":rotating_light: Request *#{undo.id}* undoes #{original} now, without approval "
            "(break-glass); an approver reviews it afterwards."
        )
    org = services.orgs.current.get(undo.org)
    where = f"<#{org.approval_channel}>" if org else "the approval channel"
    needed = undo.approvals_needed
    return (
        f":leftwards_arrow_with_hook: Request *#{undo.id}* undoes #{original}; it is waiting for "
        f"{needed} approval{'s' if needed != 1 else ''} in {where}. Check it with "
        f"`/sfvopi status {undo.id}`."
    )
