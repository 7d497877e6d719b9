"""The decision form submitted (a confirmation, with a reason or note if the policy wants one):
decided before the ack (one question to the workflow), so a refusal keeps the modal open and
says why; a run the approval started goes on after the ack.

The view payload is untrusted: the request number comes from our own `private_metadata`
(checked), the person from the signed body, and who may decide what from the store and the
org file, exactly as for a click.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.core import ids
from bot.core.text import one_line
from bot.core.workflow import MAX_NOTE, Decision
from bot.errors import InvalidId
from bot.slack import modals
from bot.slack.services import Services
from handlers.actions import answer, refusal_text
from handlers.context import answering

log = logging.getLogger(__name__)

UNREADABLE = "This form cannot be read any more; close it and click the button again."


def register(app: AsyncApp, services: Services) -> None:
    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack(**await submitted(answering(services, context), body, view))

    for callback_id in modals.CALLBACKS.values():
        app.view(callback_id)(on_submit)


async def submitted(services: Services, body: dict[str, Any], view: object) -> dict[str, Any]:
    """The ack for one submission: empty (the modal closes) or the errors to show in it."""
    person = body.get("user")
    try:
        user = ids.user_id(str(person.get("id") if isinstance(person, dict) else ""))
    except InvalidId:
        return modals.refused(UNREADABLE, field=False)
    form = modals.read_submission(view)
    if form is None:
        log.warning("a view submission that is not a form of ours was refused")
        return modals.refused(UNREADABLE, field=False)
    try:
        what = "the note" if form.decision is Decision.APPROVE else "the reason"
        if len(one_line(form.text, what)) > MAX_NOTE:
            return modals.errors(f"At most {MAX_NOTE} characters, please.")
        outcome = await services.workflow.decide(
            form.request_id, user=user, decision=form.decision, text=form.text
        )
    except Exception as exc:
        return modals.refused(refusal_text(exc, form.request_id), field=form.field)
    if outcome.refusal is not None:
        return modals.refused(refusal_text(outcome.refusal, form.request_id), field=form.field)
    # how far an approval got, or the run it started, goes on after the ack
    services.spawn(
        answer(services, outcome, form.request_id, user, form.where),
        name=f"answer-{form.request_id}",
    )
    return {}
