"""The reason (or note) modal submitted: decided before the ack, so a refusal keeps the modal
open with the reason under the field; a run the approval started goes on after the ack.

The view payload is untrusted: the request number comes from our own `private_metadata`
(checked), the person from the signed body, and who may decide what from the store and the
org file, exactly as for a click.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import ids
from bot.core.models import Status
from bot.core.text import one_line
from bot.core.workflow import MAX_NOTE, Decision
from bot.errors import Conflict, InvalidId
from bot.slack import modals
from bot.slack.services import Services
from handlers.actions import decide, partly_approved, refusal_text, tell

log = logging.getLogger(__name__)

UNREADABLE = "This form cannot be read any more; close it and click the button again."


def register(app: AsyncApp, services: Services) -> None:
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack(**await submitted(services, body, view))

    for callback_id in modals.CALLBACKS.values():
        app.view(callback_id)(on_submit)


async def submitted(services: Services, body: dict[str, Any], view: object) -> dict[str, Any]:
    """The ack for one submission: empty (the modal closes) or the errors to show in it."""
    person = body.get("user")
    try:
        user = ids.user_id(str(person.get("id") if isinstance(person, dict) else ""))
    except InvalidId:
        return modals.errors(UNREADABLE)
    form = modals.read_submission(view)
    if form is None:
        log.warning("a view submission that is not a form of ours was refused")
        return modals.errors(UNREADABLE)
    try:
        what = "the note" if form.decision is Decision.APPROVE else "the reason"
        if len(one_line(form.text, what)) > MAX_NOTE:
            return modals.errors(f"At most {MAX_NOTE} characters, please.")
        if form.decision is Decision.APPROVE:
            await _approve(services, form, user)
        else:
            await decide(services, form.decision, form.request_id, user, form.where, form.text)
    except Exception as exc:
        said = refusal_text(exc, form.request_id)
        return modals.errors(said.removeprefix(":warning: ").removeprefix(":hourglass: "))
    return {}


async def _approve(services: Services, form: modals.Submission, user: str) -> None:
    """Counts the approval now; the run it may start goes on after the ack."""
    result = await services.workflow.add_approval(form.request_id, approver=user, note=form.text)
    if not result.counted:
        raise Conflict(f"you have already approved request #{form.request_id}")
    if result.claim is not None:
        services.background.spawn(
            _run(services, form, user, result.claim), name=f"run-{form.request_id}"
        )
    elif result.request.status is Status.PENDING:
        services.background.spawn(
            tell(services, form.where, user, partly_approved(form.request_id, result.request))
        )


async def _run(services: Services, form: modals.Submission, user: str, claim: str) -> None:
    try:
        await services.workflow.execute(form.request_id, claim)
    except Exception as exc:
        await tell(services, form.where, user, refusal_text(exc, form.request_id))
