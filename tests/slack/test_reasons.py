"""A reason for every decision: Deny and Cancel open a modal asking why, Approve may take a
note, per policy; the text lands on the card, in the thread, in the requester's DM and in the
event log. The modal's submission is untrusted and re-checked like a click.

Everything over the bot's real HTTP server (and Socket Mode where it says so), the Slack
stand-in and the SFVoPI emulator, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackApiRefusal, SlackStandin, Slow, Timeout
from handlers import actions
from tests.support.bot import RunningBot, SocketBot
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack_user import (
    APPROVALS,
    UNLINK,
    ask,
    card,
    card_text,
    click,
    click_for_reason,
    deny_with_reason,
    dms,
    ours_and_another_orgs,
    request_id_in,
    told,
    type_and_submit,
)

STRICT_YAML = ORGS_YAML.replace(
    "      self_approval: false\n",
    "      self_approval: false\n      deny_reason: required\n      approve_note: optional\n",
    1,
)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The usual settings, on each database in turn."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


@pytest.fixture
def strict(orgs: OrgDirectory) -> OrgDirectory:
    """acme requires a reason to deny or cancel, and takes an optional note on approval."""
    return parse_orgs(STRICT_YAML, dict(ORG_ENV), source="strict.yml")


async def events_of(bot: RunningBot, request_id: int) -> list[tuple[str, str, dict[str, object]]]:
    found = await bot.services.store.events(request_id)
    return [(e.kind, e.actor, e.detail) for e in found]


# -- deny with a reason, end to end -----------------------------------------------------------


async def test_deny_with_a_reason_reaches_the_card_the_thread_the_requester_and_the_log(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))

    modal = await click_for_reason(slack, bot, "U0BOB", request_id, "deny")
    assert modal.view["callback_id"] == "sfvopi_deny_reason"
    assert f"#{request_id}" in modal.view["title"]["text"]
    assert card(slack, request_id).action_ids()  # nothing decided by the click alone

    result = await type_and_submit(slack, bot, "U0BOB", "wrong DID, see INC-4412 <!here>")
    assert result.closed and not result.errors

    denied = card(slack, request_id)
    assert denied.action_ids() in ([], ["sfvopi_undo"])
    shown = card_text(denied)
    assert "denied by <@U0BOB>" in shown
    assert "wrong DID, see INC-4412 &lt;!here&gt;" in shown  # inert: no ping
    thread = slack.thread(APPROVALS, denied.ts)
    assert any("INC-4412" in m.text for m in thread)
    assert any("INC-4412" in text for text in dms(slack, "U0ALICE"))
    assert ("denied", "U0BOB", {"note": "wrong DID, see INC-4412 <!here>"}) in await events_of(
        bot, request_id
    )
    assert not emulator.writes


async def test_the_requester_cancels_with_a_reason(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    modal = await click_for_reason(slack, bot, "U0ALICE", request_id, "cancel")
    assert modal.view["callback_id"] == "sfvopi_cancel_reason"
    await type_and_submit(slack, bot, "U0ALICE", "filed against the wrong app")

    stored = await bot.services.workflow.status(request_id, user="U0ALICE")
    assert stored.status is Status.CANCELLED
    assert stored.decision_note == "filed against the wrong app"
    assert "filed against the wrong app" in card_text(card(slack, request_id))


async def test_a_reason_may_be_left_empty_unless_the_policy_requires_it(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    modal = await click_for_reason(slack, bot, "U0BOB", request_id, "deny")
    assert modal.view["blocks"][-1]["optional"] is True
    result = await type_and_submit(slack, bot, "U0BOB", "")
    assert result.closed
    stored = await bot.services.workflow.status(request_id, user="U0BOB")
    assert stored.status is Status.DENIED and stored.decision_note is None


# -- the policy: a required reason, an optional approval note --------------------------------


@pytest.fixture
async def strict_bot(
    bot_settings: Settings, strict: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    from tests.support.bot import start_bot

    running = await start_bot(bot_settings, strict, slack)
    yield running
    await running.stop()


async def test_a_required_reason_left_empty_keeps_the_modal_open_with_an_error(
    slack: SlackStandin, strict_bot: RunningBot
) -> None:
    bot = strict_bot
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    modal = await click_for_reason(slack, bot, "U0BOB", request_id, "deny")
    assert modal.view["blocks"][-1]["optional"] is False

    empty = await type_and_submit(slack, bot, "U0BOB", "   ")
    assert not empty.closed
    assert "required" in " ".join(empty.errors.values())
    assert slack.modal_of("U0BOB") is not None
    assert (await bot.services.workflow.status(request_id, user="U0BOB")).status is Status.PENDING

    done = await type_and_submit(slack, bot, "U0BOB", "not approved by the change board")
    assert done.closed
    stored = await bot.services.workflow.status(request_id, user="U0BOB")
    assert stored.status is Status.DENIED
    assert stored.decision_note == "not approved by the change board"


async def test_a_too_long_reason_is_refused_in_the_modal(
    slack: SlackStandin, strict_bot: RunningBot
) -> None:
    bot = strict_bot
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click_for_reason(slack, bot, "U0BOB", request_id, "deny")
    result = await type_and_submit(slack, bot, "U0BOB", "x" * 501)
    assert not result.closed and "500" in " ".join(result.errors.values())
    assert (await bot.services.workflow.status(request_id, user="U0BOB")).status is Status.PENDING


async def test_a_reason_that_is_not_valid_text_is_a_field_error_not_our_fault(
    slack: SlackStandin, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click_for_reason(slack, bot, "U0BOB", request_id, "deny")
    refused = await type_and_submit(slack, bot, "U0BOB", "wrong DID \ud800")
    assert not refused.closed
    assert list(refused.errors.values()) == [
        "the reason contains characters that are not valid text"
    ]
    assert (await bot.services.workflow.status(request_id, user="U0BOB")).status is Status.PENDING
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]

    done = await type_and_submit(slack, bot, "U0BOB", "wrong DID")
    assert done.closed
    stored = await bot.services.workflow.status(request_id, user="U0BOB")
    assert stored.status is Status.DENIED and stored.decision_note == "wrong DID"


async def test_a_note_that_is_not_valid_text_is_refused_in_the_approve_modal(
    slack: SlackStandin, strict_bot: RunningBot, emulator: Emulator
) -> None:
    bot = strict_bot
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click_for_reason(slack, bot, "U0BOB", request_id, "approve")
    refused = await type_and_submit(slack, bot, "U0BOB", "\udfff checked")
    assert list(refused.errors.values()) == ["the note contains characters that are not valid text"]
    assert (await bot.services.workflow.status(request_id, user="U0BOB")).status is Status.PENDING
    assert not emulator.writes


async def test_a_required_reason_of_only_invisible_characters_is_no_reason(
    slack: SlackStandin, strict_bot: RunningBot
) -> None:
    bot = strict_bot
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click_for_reason(slack, bot, "U0BOB", request_id, "deny")
    empty = await type_and_submit(slack, bot, "U0BOB", "\u200b\u202e \u2066\u2069\ufeff")
    assert not empty.closed
    assert "a reason is required" in " ".join(empty.errors.values())
    assert (await bot.services.workflow.status(request_id, user="U0BOB")).status is Status.PENDING
    refused = await ask(slack, bot, "U0ALICE", f"cancel {request_id} \u200b\u200e\u202e")
    assert "a reason is required" in refused


async def test_an_approval_note_goes_on_the_card_the_thread_the_dm_and_the_log(
    slack: SlackStandin, strict_bot: RunningBot, emulator: Emulator
) -> None:
    bot = strict_bot
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    modal = await click_for_reason(slack, bot, "U0BOB", request_id, "approve")
    assert modal.view["callback_id"] == "sfvopi_approve_note"
    assert not emulator.writes

    await type_and_submit(slack, bot, "U0BOB", "checked with the carrier")

    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    done = card(slack, request_id)
    assert "checked with the carrier" in card_text(done)
    assert any("checked with the carrier" in m.text for m in slack.thread(APPROVALS, done.ts))
    assert any("checked with the carrier" in text for text in dms(slack, "U0ALICE"))
    assert ("approved", "U0BOB", {"note": "checked with the carrier"}) in await events_of(
        bot, request_id
    )


async def test_a_slash_cancel_without_the_required_reason_says_how(
    slack: SlackStandin, strict_bot: RunningBot
) -> None:
    bot = strict_bot
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    refused = await ask(slack, bot, "U0ALICE", f"cancel {request_id}")
    assert "reason is required" in refused
    done = await ask(slack, bot, "U0ALICE", f"cancel {request_id} wrong number, INC-9")
    assert "cancelled" in done
    stored = await bot.services.workflow.status(request_id, user="U0ALICE")
    assert stored.status is Status.CANCELLED and stored.decision_note == "wrong number, INC-9"


# -- a submission is untrusted --------------------------------------------------------------


async def forged(
    slack: SlackStandin, user: str, *, seen_by: str = "U0BOB", **changes: object
) -> dict[str, str]:
    """Submits, as `user`, the modal open in front of `seen_by` with its view changed as a
    forger would; returns the errors the bot answered with (a form it cannot read is answered
    with a view saying so, in place of the form)."""
    modal = slack.modal_of(seen_by)
    assert modal is not None
    typed = {"sfvopi_text": {"text": {"type": "plain_text_input", "value": "x"}}}
    shown = modal.to_dict() | {"state": {"values": typed}} | changes
    result = await slack.submit_payload(user, shown)
    assert result.status == 200
    if result.json.get("response_action") == "update":
        return {"view": str(result.json["view"]["blocks"])}
    return result.errors


async def test_a_forged_submission_changes_nothing(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    mine, theirs = await ours_and_another_orgs(slack, bot)
    await click_for_reason(slack, bot, "U0BOB", mine, "deny")

    other_request = json.dumps({"request": theirs, "where": APPROVALS, "preview": 0})
    errors = await forged(slack, "U0BOB", private_metadata=other_request)
    assert f"no request #{theirs}" in " ".join(errors.values())
    for metadata in ("not json", json.dumps({"request": "1; DROP", "where": APPROVALS}), "[]"):
        assert "cannot be read" in " ".join(
            (await forged(slack, "U0BOB", private_metadata=metadata)).values()
        )
    assert "cannot be read" in " ".join((await forged(slack, "U0BOB", state={})).values())
    # a viewer replays an approver's deny form
    viewer = await forged(slack, "U0VIC")
    assert "approver role" in " ".join(viewer.values())
    # the requester cannot deny their own request through the form either
    own = await forged(slack, "U0ALICE")
    assert "you are a requester" in " ".join(own.values())
    await bot.settle()

    for request_id in (mine, theirs):
        stored = await bot.services.store.get(request_id)
        assert stored is not None and stored.status is Status.PENDING
    assert not emulator.writes

    # decided meanwhile: the modal says so instead of deciding twice
    await click(slack, bot, "U0CAROL", mine, "approve")
    errors = await forged(slack, "U0BOB")
    assert "already" in " ".join(errors.values())
    stored = await bot.services.store.get(mine)
    assert stored is not None and stored.status is Status.SUCCEEDED
    kinds = [kind for kind, _actor, _detail in await events_of(bot, mine)]
    assert "denied" not in kinds


# -- Slack refuses or is slow to open the modal ---------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [SlackApiRefusal("expired_trigger_id"), Slow(3.5), Timeout(3.0)],
    ids=["refused", "trigger-expired-while-slow", "no-answer-in-time"],
)
async def test_when_the_modal_cannot_open_the_clicker_is_told(
    slack: SlackStandin, bot: RunningBot, fault: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "MODAL_DEADLINE", 1.0)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    slack.fail("views.open", fault)  # type: ignore[arg-type]
    found = card(slack, request_id)
    result = await slack.click("U0BOB", APPROVALS, found.ts, "sfvopi_deny")
    assert result.status == 200
    await bot.settle()
    said = told(slack, "U0BOB")
    assert any("did not open the form" in text and "Click Deny again" in text for text in said)
    assert slack.modal_of("U0BOB") is None
    assert (await bot.services.store.get(request_id)).status is Status.PENDING  # type: ignore[union-attr]


# -- over Socket Mode ------------------------------------------------------------------------


async def test_deny_with_a_reason_over_socket_mode(
    slack: SlackStandin, socket_bot: SocketBot
) -> None:
    result = await slack.command("U0ALICE", UNLINK)
    assert result.transport == "socket" and result.ephemeral is not None
    request_id = request_id_in(result.ephemeral.text)
    await socket_bot.settle()

    submitted = await deny_with_reason(slack, socket_bot, "U0BOB", request_id, "duplicate of #3")
    assert submitted.transport == "socket" and submitted.closed

    stored = await socket_bot.services.workflow.status(request_id, user="U0BOB")
    assert stored.status is Status.DENIED and stored.decision_note == "duplicate of #3"
    assert "duplicate of #3" in card_text(card(slack, request_id))
