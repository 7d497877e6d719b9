"""`/sfvopi`: parse, check and store, then ack with the answer; cards are posted after the ack."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.core.workflow.reading import PENDING_SHOWN
from bot.errors import AlreadyPending, Busy, InvalidRequest, ParseError, Refusal
from bot.slack import admission, blocks
from bot.slack.grammar import Command, parse
from bot.slack.services import Services
from handlers import break_glass, policy, undo
from handlers.context import answering

log = logging.getLogger(__name__)

TEAM_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
OUR_FAULT = (
    "something went wrong on our side (it is in the bot's log). Try again in a minute; "
    "`/sfvopi pending` shows what is waiting."
)

Reply = dict[str, Any]
Handler = Callable[[Services, Command, dict[str, Any]], Awaitable[Reply]]


def register(app: AsyncApp, services: Services, *, command: str = "/sfvopi") -> None:
    async def on_command(ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack(**await answer(answering(services, context), command))

    app.command(command)(on_command)


async def answer(services: Services, payload: dict[str, Any]) -> Reply:
    """The ephemeral reply to one command; errors say what is wrong and how to do it right."""
    try:
        parsed = parse(str(payload.get("text") or ""))
    except ParseError as exc:
        return _error(str(exc), usage=True)
    try:
        if parsed.name in UNGATED:
            return await HANDLERS[parsed.name](services, parsed, payload)
        with services.admission.admitted():
            return await HANDLERS[parsed.name](services, parsed, payload)
    except Busy as exc:
        services.metrics.shed(admission.door(), exc.stage)
        return _busy(exc.message)
    except AlreadyPending as exc:
        return await _already_pending(services, exc, payload)
    except Refusal as exc:
        return _error(exc.message, usage=isinstance(exc, InvalidRequest))
    except Exception:  # the store or a bug: still an answer, never Slack's "dispatch_failed"
        log.exception("/sfvopi %s failed", parsed.name)
        return _error(OUR_FAULT, usage=False)


async def _already_pending(
    services: Services, exc: AlreadyPending, payload: dict[str, Any]
) -> Reply:
    """The refusal, with a link to the pending request's card (built from the store: no
    network call before the ack)."""
    pending = await services.store.get(exc.request_id)
    domain = str(payload.get("team_domain") or "")
    domain = domain if TEAM_DOMAIN.fullmatch(domain) else ""
    link = (
        blocks.permalink(domain, pending.card_channel, pending.card_ts)
        if pending is not None and pending.card_channel and pending.card_ts and domain
        else None
    )
    message = exc.message + (f" (<{link}|its card>)" if link else "")
    return {"text": f":warning: {message}", "blocks": [blocks.warning(exc.message, link)]}


def _busy(message: str) -> Reply:
    """Busy, and nothing was filed: said plainly, so the user knows to simply try again."""
    return _say(f":hourglass: Busy: {message}")


def _error(message: str, *, usage: bool) -> Reply:
    return {"text": f":warning: {message}", "blocks": blocks.error(message, usage=usage)}


def _say(text: str) -> Reply:
    return {"text": text, "blocks": blocks.message_blocks(text)}


async def _help(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    return _say(blocks.USAGE)


async def _whoami(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    user = str(payload.get("user_id", ""))
    memberships = services.workflow.whoami(user)
    if not memberships:
        return _say(f"{blocks.user(user)} is not a member of any organization here.")
    lines = [f"• *{org.name}*: {role.label}" for org, role in memberships]
    return _say(f"{blocks.user(user)}, your organizations:\n" + "\n".join(lines))


async def _pending(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    """The pending requests, at most PENDING_SHOWN of them, and how many there are in all."""
    user = str(payload.get("user_id", ""))
    found = await services.workflow.pending(user=user, org=cmd.org, limit=PENDING_SHOWN + 1)
    shown = found[:PENDING_SHOWN]
    total = len(found)
    if total > PENDING_SHOWN:
        total = await services.workflow.pending_count(user=user, org=cmd.org)
    heading = "Pending" if total == len(shown) else f"Pending (showing {len(shown)} of {total})"
    return {"text": f"{total} pending", "blocks": blocks.request_list(heading, shown)}


async def _history(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    found = await services.workflow.history(user=str(payload.get("user_id", "")), org=cmd.org)
    return {"text": "Recent requests", "blocks": blocks.request_list("Recent requests", found)}


async def _status(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    assert cmd.request_id is not None
    found = await services.workflow.status(cmd.request_id, user=str(payload.get("user_id", "")))
    if found.break_glass:
        return break_glass.status_reply(found)
    preview = await services.store.latest_preview(found.id)
    return {"text": blocks.card_text(found), "blocks": blocks.status_blocks(found, preview)}


async def _cancel(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    assert cmd.request_id is not None
    await services.workflow.cancel(
        cmd.request_id, user=str(payload.get("user_id", "")), note=cmd.reason
    )
    return _say(f"Request #{cmd.request_id} is cancelled.")


async def _ask(services: Services, cmd: Command, payload: dict[str, Any]) -> Reply:
    assert cmd.action is not None
    if cmd.break_glass is not None:
        return await break_glass.ask(services, cmd, payload)
    request = await services.workflow.request(
        requester=str(payload.get("user_id", "")),
        action=cmd.action,
        targets=cmd.targets,
        reason=cmd.reason,
        org=cmd.org,
        channel=payload.get("channel_id"),
        response_url=payload.get("response_url"),
        dedupe_key=f"slack:{payload['trigger_id']}" if payload.get("trigger_id") else None,
        again=cmd.again,
        at=cmd.at,
    )
    org = services.orgs.current.get(request.org)
    where = f"<#{org.approval_channel}>" if org else "the approval channel"
    needed = request.approvals_needed
    ruled = org.policy.decide_for(request) if org and org.policy.rules else None
    text = (
        f":inbox_tray: Request *#{request.id}* ({blocks.title(request).split(' — ')[0].lower()}) "
        f"is waiting for {needed} approval{'s' if needed != 1 else ''} in {where}. "
        + (f"Policy: {blocks.escape(ruled.summary())}. " if ruled else "")
        + (
            f"Once approved, it runs no earlier than {blocks.when(request.run_after)}. "
            if request.run_after is not None
            else ""
        )
        + f"Check it with `/sfvopi status {request.id}`."
    )
    return _say(text)


# answered even under overload: no database, next to no work
UNGATED = frozenset({"help", "whoami"})

HANDLERS: dict[str, Handler] = {
    "help": _help,
    "whoami": _whoami,
    "pending": _pending,
    "history": _history,
    "status": _status,
    "cancel": _cancel,
    "unlink": _ask,
    "delete": _ask,
    "undo": undo.command,
    "policy": policy.answer,
}
