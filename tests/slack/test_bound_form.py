"""The approval form shows what the request touches and is bound to it, over real sockets:
signed clicks and submissions through the bot's HTTP server, the Slack stand-in, and the SFVoPI
emulator, whose control links a number behind the bot's back (over HTTP). A form opened before
a drift and submitted after it counts nothing and says what changed; opened again, it counts.
A forged preview seq is refused; `/sfvopi status` shows the preview too."""

from __future__ import annotations

import json

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import SubmitResult, View
from tests.support.bot import RunningBot
from tests.support.drift import APP, DELETE, KEY, NEW, THREE, link_behind, seed
from tests.support.slack_user import APPROVALS, ask, card, card_text, click, request_id_in


async def _filed(slack: SlackStandin, bot: RunningBot, emulator: Emulator) -> int:
    seed(emulator)
    return request_id_in(await ask(slack, bot, "U0ALICE", DELETE))


async def _open_form(slack: SlackStandin, bot: RunningBot, user: str, request_id: int) -> View:
    """Clicks Approve on the card; the form the bot opened, not submitted."""
    result = await slack.click(user, APPROVALS, card(slack, request_id).ts, "sfvopi_approve")
    assert result.status == 200
    await bot.settle()
    modal = slack.modal_of(user)
    assert modal is not None
    return modal


def _form_text(modal: View) -> str:
    return str(modal.view["blocks"])


def _updated(result: SubmitResult) -> str:
    """What the bot put in the form instead of closing it."""
    assert result.status == 200 and not result.closed, result.body
    assert result.json.get("response_action") == "update", result.body
    return str(result.json["view"]["blocks"])


async def _request(bot: RunningBot, request_id: int) -> tuple[Status, tuple[str, ...], list[str]]:
    stored = await bot.services.workflow.store.get(request_id)
    assert stored is not None
    events = await bot.services.workflow.store.events(request_id)
    return stored.status, stored.approvers, [e.actor for e in events if e.kind == "approved"]


async def test_a_form_opened_before_a_drift_counts_nothing_and_says_what_changed(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = await _filed(slack, bot, emulator)
    dave = await _open_form(slack, bot, "U0DAVE", request_id)
    shown = _form_text(dave)
    assert "deleting it unlinks these 3 numbers" in shown and NEW not in shown
    assert json.loads(dave.view["private_metadata"])["preview"] == 1

    await click(slack, bot, "U0BOB", request_id, "approve")
    await link_behind(emulator, NEW)
    await click(slack, bot, "U0CAROL", request_id, "approve")  # drifts: pending again, seq 2
    assert (await _request(bot, request_id))[:2] == (Status.PENDING, ())

    said = _updated(await slack.submit_view("U0DAVE"))
    assert "changed since you opened this" in said and f"{NEW} is now linked to {APP}" in said
    assert "Open it again from the card" in said
    await bot.settle()
    status, approvers, approved = await _request(bot, request_id)
    assert (status, approvers) == (Status.PENDING, ())
    assert "U0DAVE" not in approved  # nothing recorded, not even in the log
    assert emulator.has_app(KEY, APP)

    again = await _open_form(slack, bot, "U0DAVE", request_id)
    assert "deleting it unlinks these 4 numbers" in _form_text(again)
    assert NEW in _form_text(again)
    assert json.loads(again.view["private_metadata"])["preview"] == 2
    result = await slack.submit_view("U0DAVE")
    assert result.status == 200 and result.closed, result.body
    await bot.settle()
    await click(slack, bot, "U0BOB", request_id, "approve")
    assert "Done" in card_text(card(slack, request_id))
    assert not emulator.has_app(KEY, APP)


async def test_a_forged_or_missing_preview_seq_is_refused_and_counts_nothing(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = await _filed(slack, bot, emulator)
    modal = await _open_form(slack, bot, "U0BOB", request_id)
    metadata = json.loads(modal.view["private_metadata"])

    async def forged(preview: object) -> SubmitResult:
        changed = (
            dict(metadata, preview=preview)
            if preview is not None
            else {k: v for k, v in metadata.items() if k != "preview"}
        )
        view = modal.to_dict() | {"state": {"values": {}}}
        return await slack.submit_payload("U0BOB", view | {"private_metadata": json.dumps(changed)})

    assert "this request does not have" in _updated(await forged(metadata["preview"] + 7))
    for bad in (None, "1", True, -1):
        assert "cannot be read" in _updated(await forged(bad)), bad
    await bot.settle()
    assert await _request(bot, request_id) == (Status.PENDING, (), [])


async def test_status_shows_what_the_request_touches(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = await _filed(slack, bot, emulator)
    result = await slack.command("U0ALICE", f"status {request_id}", channel="C0OPS")
    assert result.status == 200 and result.ephemeral is not None
    shown = str(result.ephemeral.blocks)
    assert "What it touches now" in shown and "deleting it unlinks these 3 numbers" in shown
    assert all(n in shown for n in THREE)
