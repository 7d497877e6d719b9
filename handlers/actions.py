"""Approve, Deny and Cancel, on a card or on the App Home: ack at once, then decide from the
store, never from the button. Whoever may not decide is refused at once; Approve and Deny (and
a decision the policy wants a text for) open the bot's form to confirm, only for whoever may."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.core import ids
from bot.core.models import Status
from bot.core.workflow import Decision, Outcome
from bot.errors import InvalidId, RecordingDelayed, Refusal, RequestNotFound
from bot.slack import blocks, modals
from bot.slack.refusals import classify
from bot.slack.services import Services
from handlers.context import answering

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


Click = Callable[[Services, dict[str, Any], dict[str, Any]], Coroutine[Any, Any, None]]


def clicked_after_ack(services: Services, run: Click, name: str) -> Callable[..., Awaitable[None]]:
    """A button's listener: acks, then runs `run` right after the ack (Slack honours the
    click's trigger_id for a modal ~3 s only), with what it starts held for the ack."""

    async def on_click(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        now = answering(services, context)
        now.spawn(run(now, body, action), name=name)

    return on_click


def register(app: AsyncApp, services: Services) -> None:
    # `click` looked up when clicked, not bound now (tests/slack/test_after_ack.py wraps it)
    on_click = clicked_after_ack(services, lambda now, body, act: click(now, body, act), "click")

    for action_id in blocks.BUTTONS:
        app.action(action_id)(on_click)


async def click(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Runs one click after its ack: one question to the workflow, its answer rendered. A
    refusal is told to the clicker alone and changes nothing."""
    user, where, request_id = await button_request(services, body, action)
    if request_id is None:
        return
    decision = DECISIONS.get(str(action.get("action_id")))
    if decision is None:
        return
    try:
        outcome = await services.workflow.decide(request_id, user=user, decision=decision)
    except Exception as exc:
        await tell(services, where, user, refusal_text(exc, request_id))
        return
    if outcome.need is not None and outcome.request is not None:
        await ask_why(services, body, decision, outcome, where)
    else:
        await answer(services, outcome, request_id, user, where)
    clicked = _text(body.get("container"), "message_ts")
    if clicked and outcome.may_refresh and outcome.request is not None:
        await services.notifier.retire_duplicate(
            outcome.request, where, clicked, body.get("message"), services.bot_user_id
        )


async def answer(
    services: Services, outcome: Outcome, request_id: int, user: str, where: str
) -> None:
    """What a decision came to, told: its refusal, how far an approval got, or the run it
    started (this caller holds the claim), whose failure is told too."""
    if outcome.refusal is not None:
        await tell(services, where, user, refusal_text(outcome.refusal, request_id))
        return
    try:
        if outcome.claim is not None:
            await services.workflow.execute(request_id, outcome.claim, claimed=outcome.request)
        elif outcome.request is not None and outcome.request.status is Status.PENDING:
            await tell(services, where, user, partly_approved(request_id, outcome.request))
    except Exception as exc:
        await tell(services, where, user, refusal_text(exc, request_id))


async def ask_why(
    services: Services,
    body: dict[str, Any],
    decision: Decision,
    outcome: Outcome,
    where: str,
) -> None:
    """Opens the decision form (to confirm, with a reason or note if the policy wants one, and
    the preview read with the click's decision, which an approval is bound to) with the
    click's trigger_id; if Slack refuses or is slow, the clicker is told so (a click is never
    left silent)."""
    request, need = outcome.request, outcome.need
    assert request is not None and need is not None
    user = _text(body.get("user"), "id")
    trigger = body.get("trigger_id")
    try:
        if not isinstance(trigger, str) or not trigger:
            raise ValueError("no trigger_id")
        modal = modals.decision_modal(decision, request, need, where=where, preview=outcome.preview)
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


async def button_request(
    services: Services, body: dict[str, Any], action: dict[str, Any]
) -> tuple[str, str, int | None]:
    """Who clicked, where, and the request the button's (untrusted) value names: None, and
    the clicker told, when it names none."""
    user = _text(body.get("user"), "id")
    where = where_clicked(body)
    try:
        return user, where, ids.request_id(_text(action, "value"))
    except InvalidId:
        await tell(services, where, user, "That button does not name a request.")
        return user, where, None


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
