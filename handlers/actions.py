"""Approve, Deny and Cancel, on a card or on the App Home: ack at once, then decide from the
store, never from the button. A decision the policy wants a text for opens a modal first."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import ids
from bot.core.models import Status
from bot.core.org import Need
from bot.core.workflow import Decision
from bot.errors import InvalidId, RecordingDelayed, Refusal, RequestNotFound
from bot.slack import blocks, modals
from bot.slack.refusals import classify
from bot.slack.services import Services

log = logging.getLogger(__name__)

DECISIONS = {
    blocks.APPROVE: Decision.APPROVE,
    blocks.DENY: Decision.DENY,
    blocks.CANCEL: Decision.CANCEL,
}
OUR_FAULT = ":warning: something went wrong on our side; try again in a minute."
# Slack honours a trigger_id ~3 s: past this, the modal will not open (no retry can help), and
# the clicker hears so now rather than after the client's retries.
MODAL_DEADLINE = 5.0


def register(app: AsyncApp, services: Services) -> None:
    async def on_click(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        # after the ack, at once: Slack honours the click's trigger_id for a modal ~3 s only
        services.background.spawn(click(services, body, action), name="click")

    for action_id in blocks.BUTTONS:
        app.action(action_id)(on_click)


async def click(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Runs one click after its ack; a refusal is told to the clicker alone and changes nothing."""
    user = _text(body.get("user"), "id")
    where = where_clicked(body)
    try:
        request_id = ids.request_id(_text(action, "value"))
    except InvalidId:
        await tell(services, where, user, "That button does not name a request.")
        return
    decision = DECISIONS.get(str(action.get("action_id")))
    if decision is None:
        return
    try:
        request, need = await services.workflow.check(request_id, user=user, decision=decision)
        if need is Need.NONE:
            await decide(services, decision, request_id, user, where)
        else:
            await ask_why(services, body, decision, request, need, where)
    except Exception as exc:
        await tell(services, where, user, refusal_text(exc, request_id))
    clicked = _text(body.get("container"), "message_ts")
    if clicked and await services.workflow.may_decide(request_id, user):
        await services.notifier.retire_duplicate(
            request_id, where, clicked, body.get("message"), services.bot_user_id
        )


async def decide(
    services: Services, decision: Decision, request_id: int, user: str, where: str, note: str = ""
) -> None:
    """The decision itself, as the workflow rules (refusals raise, for the caller to tell)."""
    workflow = services.workflow
    match decision:
        case Decision.APPROVE:
            request = await workflow.approve(request_id, approver=user, note=note)
            if request.status is Status.PENDING:
                await tell(services, where, user, partly_approved(request_id, request))
        case Decision.DENY:
            await workflow.deny(request_id, approver=user, note=note)
        case Decision.CANCEL:
            await workflow.cancel(request_id, user=user, note=note)


async def ask_why(
    services: Services,
    body: dict[str, Any],
    decision: Decision,
    request: Any,
    need: Need,
    where: str,
) -> None:
    """Opens the reason (or note) modal with the click's trigger_id; if Slack refuses or is
    slow, the clicker is told so (a click is never left silent)."""
    user = _text(body.get("user"), "id")
    trigger = body.get("trigger_id")
    try:
        if not isinstance(trigger, str) or not trigger:
            raise ValueError("no trigger_id")
        modal = modals.decision_modal(decision, request, need, where=where)
        async with asyncio.timeout(MODAL_DEADLINE):
            await services.slack.views_open(trigger_id=trigger, view=modal)
    except Exception as exc:
        error = classify(exc).error
        log.warning("request %s: Slack did not open the %s form (%s)", request.id, decision, error)
        await tell(
            services,
            where,
            user,
            f":warning: Slack did not open the form to {decision.value} request #{request.id} "
            f"({error}); nothing changed. Click {decision.value.capitalize()} again.",
        )


def partly_approved(request_id: int, request: Any) -> str:
    return (
        f"You approved request #{request_id} "
        f"({len(request.approvals)} of {request.approvals_needed}); it runs "
        "when another approver agrees."
    )


def refusal_text(exc: BaseException, request_id: int) -> str:
    """What the clicker is told when their decision did not go through."""
    if isinstance(exc, RequestNotFound):
        return (
            f":warning: there is no request #{request_id} in your organizations; if you see "
            "its card, it belongs to an organization you are not a member of (an admin of "
            "that organization can add you)."
        )
    if isinstance(exc, Refusal):
        return f":warning: {exc.message}"
    if isinstance(exc, RecordingDelayed):
        return f":hourglass: {exc.message}"
    log.error("a decision on request %s failed", request_id, exc_info=exc)
    return OUR_FAULT


def where_clicked(body: dict[str, Any]) -> str:
    """The channel a click came from, or modals.HOME for a click on the App Home."""
    if _text(body.get("container"), "type") == "view" or _text(body.get("view"), "type") == "home":
        return modals.HOME
    return _text(body.get("channel"), "id") or _text(body.get("container"), "channel_id")


async def tell(services: Services, where: str, user: str, text: str) -> None:
    """An ephemeral in the channel clicked in; on the App Home, a notice at its top."""
    if where == modals.HOME:
        await services.home.tell(user, text)
    else:
        await services.notifier.tell(where, user, text)


def _text(container: object, key: str) -> str:
    """`container[key]` when it is a string in a dict; payload fields are untrusted shapes."""
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, str) else ""
