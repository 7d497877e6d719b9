"""Approve and Deny are confirmed in the bot's own form, never in Slack's button dialog: whoever
may not decide is refused at the click, with no form; whoever may is shown what they decide and
decides on submission, which is re-checked as untrusted input.

Over the bot's real HTTP server, the Slack stand-in and the SFVoPI emulator, signed requests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackApiRefusal, SlackStandin
from bot.sandbox.slack_workspace import SubmitResult
from handlers import actions
from tests.support.bot import RunningBot
from tests.support.slack_user import (
    APPROVALS,
    UNLINK,
    ask,
    card,
    click,
    ours_and_another_orgs,
    request_id_in,
    told,
)


def opened(slack: SlackStandin) -> list[Any]:
    """The views.open calls the bot made."""
    return [c for c in slack.calls if c.method == "views.open"]


async def press(
    slack: SlackStandin, bot: RunningBot, user: str, request_id: int, button: str
) -> None:
    """Clicks a card's button, without confirming anything."""
    result = await slack.click(user, APPROVALS, card(slack, request_id).ts, f"sfvopi_{button}")
    assert result.status == 200
    await bot.settle()


async def status(bot: RunningBot, request_id: int) -> Status:
    stored = await bot.services.store.get(request_id)
    assert stored is not None
    return stored.status


def shown(result: SubmitResult) -> str:
    """What the bot put in the form instead of closing it (`response_action: update`)."""
    assert result.json.get("response_action") == "update", result.body
    return str(result.json["view"]["blocks"])


@pytest.mark.parametrize(
    ("user", "button", "said"),
    [
        ("U0ALICE", "approve", "requester"),  # their own request
        ("U0ALICE", "deny", "requester"),
        ("U0VIC", "approve", "approver role"),  # a viewer
        ("U0GARY", "approve", "no request #"),  # another organization's approver
    ],
)
async def test_whoever_may_not_decide_is_refused_at_the_click_with_no_form(
    slack: SlackStandin,
    bot: RunningBot,
    emulator: Emulator,
    user: str,
    button: str,
    said: str,
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await press(slack, bot, user, request_id, button)
    assert any(said in text for text in told(slack, user)), told(slack, user)
    assert opened(slack) == [] and slack.modal_of(user) is None
    assert await status(bot, request_id) is Status.PENDING
    assert not emulator.writes


async def test_an_approver_confirms_in_the_form_and_the_request_runs(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await press(slack, bot, "U0BOB", request_id, "approve")

    modal = slack.modal_of("U0BOB")
    assert modal is not None and len(opened(slack)) == 1
    assert modal.view["callback_id"] == "sfvopi_approve_note"
    assert modal.view["submit"]["text"] == "Approve"
    form = str(modal.view["blocks"])
    for part in ("Unlink 1 number", f"request #{request_id}", "<@U0ALICE>", "+918000000001"):
        assert part in form
    assert "fraud on this DID, INC-4411" in form
    # the click alone decided nothing
    assert await status(bot, request_id) is Status.PENDING and not emulator.writes

    result = await slack.submit_view("U0BOB")
    assert result.status == 200 and result.closed and not result.errors
    await bot.settle()
    assert await status(bot, request_id) is Status.SUCCEEDED
    assert [c.method for c in emulator.writes] == ["DELETE"]


async def test_an_approver_who_goes_back_decides_nothing(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await press(slack, bot, "U0BOB", request_id, "approve")
    slack.close_modal_of("U0BOB")
    await bot.settle()
    assert await status(bot, request_id) is Status.PENDING
    assert card(slack, request_id).action_ids()


async def test_a_form_submitted_after_someone_else_decided_says_so_and_decides_nothing(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await press(slack, bot, "U0BOB", request_id, "approve")
    assert slack.modal_of("U0BOB") is not None
    await click(slack, bot, "U0CAROL", request_id, "approve")  # Carol approves meanwhile
    assert await status(bot, request_id) is Status.SUCCEEDED

    result = await slack.submit_view("U0BOB")
    assert result.status == 200 and not result.closed
    assert "already" in shown(result)
    modal = slack.modal_of("U0BOB")  # the form now says why, with nothing left to submit
    assert modal is not None and "submit" not in modal.view
    await bot.settle()
    assert await status(bot, request_id) is Status.SUCCEEDED
    assert len(emulator.writes) == 1


async def test_a_changed_or_replayed_form_is_refused(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    mine, theirs = await ours_and_another_orgs(slack, bot)
    await press(slack, bot, "U0BOB", mine, "approve")
    modal = slack.modal_of("U0BOB")
    assert modal is not None

    async def forged(user: str, **changes: object) -> SubmitResult:
        view = modal.to_dict() | {"state": {"values": {}}} | changes
        result = await slack.submit_payload(user, view)
        assert result.status == 200
        return result

    other = json.dumps({"request": theirs, "where": APPROVALS})
    assert f"no request #{theirs}" in shown(await forged("U0BOB", private_metadata=other))
    for metadata in ("not json", json.dumps({"request": "1; DROP", "where": APPROVALS}), "[]"):
        assert "cannot be read" in shown(await forged("U0BOB", private_metadata=metadata))
    assert "approver role" in shown(await forged("U0VIC"))  # a viewer replays Bob's form
    assert "requester" in shown(await forged("U0ALICE"))  # the requester replays it
    await bot.settle()
    for request_id in (mine, theirs):
        assert await status(bot, request_id) is Status.PENDING
    assert not emulator.writes


async def test_when_slack_refuses_to_open_the_form_the_clicker_is_told(
    slack: SlackStandin, bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "MODAL_DEADLINE", 1.0)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    slack.fail("views.open", SlackApiRefusal("expired_trigger_id"))
    await press(slack, bot, "U0BOB", request_id, "approve")
    said = told(slack, "U0BOB")
    assert any("did not open the form" in t and "Click Approve again" in t for t in said), said
    assert slack.modal_of("U0BOB") is None
    assert await status(bot, request_id) is Status.PENDING
