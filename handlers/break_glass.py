"""Break-glass in Slack: `/sfvopi … --break-glass INC-4411 <reason>` runs at once (after the
ack), and Acknowledge / Flag on its red card review it afterwards.

A button's value and a form's metadata are untrusted: only a request number is read from
them, checked; who may review comes from the store and the org file, as for every click.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.core import ids
from bot.core.models import Request, Review
from bot.core.text import one_line
from bot.core.workflow import MAX_NOTE
from bot.errors import InvalidId, InvalidRequest
from bot.slack import blocks, break_glass, modals
from bot.slack.grammar import Command
from bot.slack.refusals import classify
from bot.slack.services import Services
from handlers.actions import (
    MODAL_DEADLINE,
    button_request,
    clicked_after_ack,
    refusal_text,
    tell,
)
from handlers.context import answering

log = logging.getLogger(__name__)

UNREADABLE = "This form cannot be read any more; close it and click Flag again."


def register(app: AsyncApp, services: Services) -> None:
    on_click = clicked_after_ack(services, click, "review-click")

    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack(**await flagged(answering(services, context), body, view))

    for action_id in break_glass.BUTTONS:
        app.action(action_id)(on_click)
    app.view(break_glass.FLAG_CALLBACK)(on_submit)


async def ask(services: Services, cmd: Command, payload: dict[str, Any]) -> dict[str, Any]:
    """Files the request claimed and answers; it runs after the ack (a crash before that is
    recovered by a sweep once the lease lapses, once)."""
    assert cmd.action is not None and cmd.break_glass is not None
    filed = await services.workflow.file(
        requester=str(payload.get("user_id", "")),
        action=cmd.action,
        targets=cmd.targets,
        reason=cmd.reason,
        org=cmd.org,
        channel=payload.get("channel_id"),
        response_url=payload.get("response_url"),
        dedupe_key=f"slack:{payload['trigger_id']}" if payload.get("trigger_id") else None,
        again=cmd.again,
        break_glass=cmd.break_glass,
        at=cmd.at,
    )
    request = filed.request
    if filed.claim is not None:
        where = str(payload.get("channel_id") or "")
        services.spawn(
            run_claimed(services, request.id, filed.claim, where, request.requester),
            name=f"run-{request.id}",
        )
    org = services.orgs.current.get(request.org)
    text = break_glass.broke_glass_ack(request, org.approval_channel if org else "")
    return {"text": text, "blocks": blocks.message_blocks(text)}


def status_reply(request: Request) -> dict[str, Any]:
    """`/sfvopi status` of a break-glass request: its red card, without the review buttons."""
    shown = [b for b in break_glass.card(request) if b["type"] != "actions"]
    return {"text": break_glass.card_text(request), "blocks": shown}


async def run_claimed(
    services: Services, request_id: int, claim: str, where: str, user: str
) -> None:
    """Runs a request filed claimed, after the ack; a failure is told to who asked."""
    try:
        await services.workflow.execute(request_id, claim)
    except Exception as exc:
        if where:
            await tell(services, where, user, refusal_text(exc, request_id))


async def click(services: Services, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Acknowledge reviews at once; Flag opens the form asking why (if the review may be
    given). A refusal is told to the clicker alone and changes nothing."""
    user, where, request_id = await button_request(services, body, action)
    if request_id is None:
        return
    verdict = break_glass.VERDICTS.get(str(action.get("action_id")))
    if verdict is None:
        return
    try:
        if verdict is Review.ACKNOWLEDGED:
            await services.workflow.review(request_id, reviewer=user, verdict=verdict)
        else:
            request, _org = await services.workflow.check_review(
                request_id, reviewer=user, verdict=verdict
            )
            await _open_flag_form(services, body, request, where, user)
    except Exception as exc:
        await tell(services, where, user, refusal_text(exc, request_id))


async def _open_flag_form(
    services: Services, body: dict[str, Any], request: Any, where: str, user: str
) -> None:
    trigger = body.get("trigger_id")
    try:
        if not isinstance(trigger, str) or not trigger:
            raise ValueError("no trigger_id")
        async with asyncio.timeout(MODAL_DEADLINE):
            await services.slack.views_open(
                trigger_id=trigger, view=break_glass.flag_modal(request, where=where)
            )
    except Exception as exc:
        error = classify(exc).error
        log.warning("request %s: Slack did not open the flag form (%s)", request.id, error)
        await tell(
            services,
            where,
            user,
            f":warning: Slack did not open the form to flag request #{request.id} ({error}); "
            "nothing changed. Click Flag again.",
        )


async def flagged(services: Services, body: dict[str, Any], view: object) -> dict[str, Any]:
    """The ack for a submitted Flag form: empty (it closes) or the refusal shown in it."""
    person = body.get("user")
    try:
        user = ids.user_id(str(person.get("id") if isinstance(person, dict) else ""))
    except InvalidId:
        return modals.errors(UNREADABLE)
    form = break_glass.read_flag(view)
    if form is None:
        log.warning("a view submission that is not a flag form of ours was refused")
        return modals.errors(UNREADABLE)
    try:
        text = one_line(form.text, "the note")
    except InvalidRequest as exc:
        return modals.errors(exc.message)
    if len(text) > MAX_NOTE:
        return modals.errors(f"At most {MAX_NOTE} characters, please.")
    if not text:
        return modals.errors("Say why you flag it.")
    try:
        await services.workflow.review(
            form.request_id, reviewer=user, verdict=Review.FLAGGED, note=text
        )
    except Exception as exc:
        said = refusal_text(exc, form.request_id)
        return modals.errors(said.removeprefix(":warning: ").removeprefix(":hourglass: "))
    return {}
