"""The bot as users see it in Slack: commands, the approval card, clicks, and the outcome.

Every request goes through the bot's real HTTP server, signed as Slack signs it; Slack's Web
API is the stand-in, SFVoPI is the emulator.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import BotClock, RunningBot, start_bot
from tests.support.slack_user import (
    APPROVALS,
    OPS,
    OUTCOMES,
    UNLINK,
    ask,
    card,
    card_text,
    click,
    click_for_reason,
    confirm_if_asked,
    deny_with_reason,
    dms,
    request_id_in,
    told,
    type_and_submit,
)


def posted(slack: SlackStandin) -> list[str]:
    """Web API calls beyond the start-up token check."""
    return [c.method for c in slack.calls if c.method != "auth.test"]


# -- the happy paths -----------------------------------------------------------------------


async def test_unlink_from_command_to_outcome(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    reply = await ask(slack, bot, "U0ALICE", UNLINK)
    assert "waiting for 1 approval in <#C0APPROVALS>" in reply
    request_id = request_id_in(reply)

    pending = card(slack, request_id)
    assert pending.action_ids() == ["sfvopi_approve", "sfvopi_deny", "sfvopi_cancel"]
    shown = card_text(pending)
    for detail in ("<@U0ALICE>", "acme", "+918000000001", "sfv_app_abc123xyz456", "INC-4411"):
        assert detail in shown
    assert not emulator.writes

    await click(slack, bot, "U0BOB", request_id, "approve")

    done = card(slack, request_id)
    assert done.ts == pending.ts
    assert done.action_ids() in ([], ["sfvopi_undo"])
    assert "Done" in card_text(done)
    assert "approved by <@U0BOB>" in card_text(done)
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    (reply_in_thread,) = slack.thread(APPROVALS, pending.ts)
    assert "+918000000001" in reply_in_thread.text
    assert "HTTP 200" in reply_in_thread.text
    (notice,) = dms(slack, "U0ALICE")
    assert f"#{request_id}" in notice and "succeeded" in notice
    (logged,) = slack.messages(OUTCOMES)
    assert f"#{request_id}" in logged.text and "approved by <@U0BOB>" in logged.text


async def test_a_delete_needs_two_approvers(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(
        await ask(slack, bot, "U0ALICE", "delete sfv_app_abc123xyz456 decommission INC-7")
    )
    await click(slack, bot, "U0BOB", request_id, "approve")
    half = card(slack, request_id)
    assert "1 of 2 (<@U0BOB>)" in card_text(half)
    assert half.action_ids() == ["sfvopi_approve", "sfvopi_deny", "sfvopi_cancel"]
    assert "(1 of 2)" in told(slack, "U0BOB")[-1]
    assert not emulator.writes

    await click(slack, bot, "U0BOB", request_id, "approve")
    assert "already approved" in told(slack, "U0BOB")[-1]
    assert not emulator.writes

    await click(slack, bot, "U0CAROL", request_id, "approve")
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    assert not emulator.has_app("test-key-acme-not-real", "sfv_app_abc123xyz456")


async def test_deny(slack: SlackStandin, bot: RunningBot, emulator: Emulator) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await deny_with_reason(slack, bot, "U0BOB", request_id, "")  # Deny asks why; may be blank
    denied = card(slack, request_id)
    assert denied.action_ids() in ([], ["sfvopi_undo"])
    assert "Denied" in card_text(denied) and "denied by <@U0BOB>" in card_text(denied)
    assert "denied" in dms(slack, "U0ALICE")[-1]
    assert not emulator.writes


async def test_cancel_by_the_requester_only(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "cancel")
    assert "only the requester or an admin" in told(slack, "U0BOB")[-1]
    assert card(slack, request_id).action_ids() != []
    assert slack.modal_of("U0BOB") is None  # refused before anyone is asked why
    await click_for_reason(slack, bot, "U0ALICE", request_id, "cancel")
    await type_and_submit(slack, bot, "U0ALICE", "")
    assert "Cancelled" in card_text(card(slack, request_id))


async def test_cancel_by_command(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    assert "cancelled" in await ask(slack, bot, "U0ALICE", f"cancel {request_id}")
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])


@pytest.mark.parametrize(
    ("clicker", "says"),
    [
        ("U0DAVE", "cannot approve your own request"),
        ("U0NOBODY", "no request #"),
        ("U0VIC", "you are a viewer"),
        ("U0GARY", "no request #"),
        ("U0MULTI", "you are a requester"),
    ],
)
async def test_refused_clicks_change_nothing(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator, clicker: str, says: str
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0DAVE", UNLINK))
    before = card(slack, request_id)
    edits = before.edited
    await click(slack, bot, clicker, request_id, "approve")
    assert says in told(slack, clicker)[-1]
    after = card(slack, request_id)
    assert after.edited == edits
    assert after.action_ids() == ["sfvopi_approve", "sfvopi_deny", "sfvopi_cancel"]
    assert not emulator.writes
    if clicker != "U0DAVE":
        assert all(says not in t for t in told(slack, "U0DAVE"))


async def test_four_concurrent_clicks_run_it_once(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(
        await ask(slack, bot, "U0ALICE", "delete sfv_app_abc123xyz456 decommission INC-8")
    )
    ts = card(slack, request_id).ts
    await asyncio.gather(
        *(
            slack.click(who, APPROVALS, ts, "sfvopi_approve")
            for who in ("U0BOB", "U0CAROL", "U0DAVE", "U0BOB")
        )
    )
    await bot.settle()
    # each confirms in the form the click opened, all at once
    await asyncio.gather(*(slack.submit_view(who) for who in ("U0BOB", "U0CAROL", "U0DAVE")))
    await bot.settle()
    assert emulator.effective[("delete", "sfv_app_abc123xyz456", None)] == 1
    assert len(emulator.writes) == 1
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    assert len(slack.messages(OUTCOMES)) == 1


# -- what the API answered, as the user sees it ---------------------------------------------


async def test_a_rejected_key_is_reported_plainly(
    slack: SlackStandin, bot_settings: Settings, orgs_yaml: str, org_env: dict[str, str]
) -> None:
    env = {**org_env, "SFVOPI_API_KEY_ACME": "test-key-revoked-not-real"}
    running = await start_bot(bot_settings, parse_orgs(orgs_yaml, env), slack)
    try:
        request_id = request_id_in(await ask(slack, running, "U0ALICE", UNLINK))
        await click(slack, running, "U0BOB", request_id, "approve")
    finally:
        await running.stop()
    final = card_text(card(slack, request_id))
    assert "Failed" in final
    assert "API key was rejected (401)" in final
    everything = str([c.params for c in slack.calls])
    assert "revoked" not in everything


@pytest.mark.parametrize(
    ("command", "faults", "says", "state"),
    [
        (
            "unlink +918000000009 sfv_app_abc123xyz456 r",
            (),
            "Number not linked to this app",
            "failed",
        ),
        ("unlink +918000000001 app_nope000001 r", (), "App not found", "failed"),
        (UNLINK, (ApiFault.SERVER_ERROR,) * 3, "server error after 3 tries", "failed"),
        (UNLINK, (ApiFault.GARBAGE,), "it may have been applied: check", "outcome unknown"),
    ],
)
async def test_api_errors_as_the_user_sees_them(
    slack: SlackStandin,
    bot: RunningBot,
    emulator: Emulator,
    command: str,
    faults: tuple[ApiFault, ...],
    says: str,
    state: str,
) -> None:
    if faults:
        emulator.script(*faults, method="DELETE")
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", command))
    await click(slack, bot, "U0BOB", request_id, "approve")
    assert says in card_text(card(slack, request_id))
    assert state in dms(slack, "U0ALICE")[-1]
    assert state in slack.messages(OUTCOMES)[-1].text


async def test_bulk_delete_with_mixed_results(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    reply = await ask(
        slack,
        bot,
        "U0GINA",
        "delete sfv_app_globex000001 sfv_app_gone00000001 cleanup INC-9",
    )
    request_id = request_id_in(reply)
    globex_card = next(m for m in slack.messages("C0GLXAPPR") if f"#{request_id}" in m.text)
    await slack.click("U0GARY", "C0GLXAPPR", globex_card.ts, "sfvopi_approve")
    await bot.settle()
    await confirm_if_asked(slack, bot, "U0GARY")
    final = slack.message("C0GLXAPPR", globex_card.ts)
    assert final is not None
    shown = str(final.blocks)
    assert "sfv_app_globex000001` — done" in shown
    assert "sfv_app_gone00000001` — failed: SFVoPI app not found" in shown
    assert (await bot.services.workflow.status(request_id, user="U0GARY")).status is Status.FAILED


# -- bad input: a clear ephemeral, nothing stored, nothing posted ---------------------------


@pytest.mark.parametrize(
    ("user", "text", "says"),
    [
        ("U0ALICE", "unlink 918000000001 sfv_app_abc123xyz456 r", "E.164"),
        ("U0ALICE", "unlink +91-800 sfv_app_abc123xyz456 r", "E.164"),
        ("U0ALICE", "unlink +918000000001 sfv_app_../x r", "not an app id"),
        ("U0ALICE", "unlink +918000000001 sfv_app_abc123xyz456", "needs a reason"),
        ("U0ALICE", "unlink sfv_app_abc123xyz456 r", "at least one phone number"),
        ("U0ALICE", "delete fraud everywhere", "is not an app id"),
        ("U0ALICE", "delete", "at least one app id"),
        ("U0ALICE", "explode everything", "unknown command `explode`"),
        ("U0ALICE", "status", "needs one request number"),
        ("U0ALICE", "status abc", "not a request number"),
        (
            "U0ALICE",
            "delete " + " ".join(f"sfv_app_{i:012d}" for i in range(101)) + " r",
            "too many",
        ),
        ("U0VIC", UNLINK, "not a requester in any organization"),
        ("U0NOBODY", UNLINK, "not a requester in any organization"),
        ("U0MULTI", UNLINK, "--org NAME"),
        ("U0MULTI", "--org nosuch " + UNLINK, "not a member of an organization named `nosuch`"),
    ],
)
async def test_bad_input_gets_an_ephemeral_and_nothing_else(
    slack: SlackStandin, bot: RunningBot, user: str, text: str, says: str
) -> None:
    result = await slack.command(user, text, channel=OPS)
    await bot.settle()
    assert result.status == 200
    assert result.ephemeral is not None and result.ephemeral.from_ack
    assert says in result.ephemeral.text
    assert posted(slack) == []
    assert await bot.services.store.list_requests(orgs=["acme", "globex"]) == []


async def test_a_channel_the_org_does_not_allow(slack: SlackStandin, bot: RunningBot) -> None:
    result = await slack.command("U0ALICE", UNLINK, channel="C0RANDOM")
    await bot.settle()
    assert result.ephemeral is not None
    assert "only in <#C0OPS>" in result.ephemeral.text
    assert posted(slack) == []


async def test_bad_input_points_to_help_which_gives_the_usage(
    slack: SlackStandin, bot: RunningBot
) -> None:
    bad = await slack.command("U0ALICE", "unlnk", channel=OPS)
    assert bad.ephemeral is not None and "Usage" not in str(bad.ephemeral.blocks)
    assert "`/sfvopi help` for every command and its options." in str(bad.ephemeral.blocks)
    for text in ("", "help"):
        shown = await slack.command("U0ALICE", text, channel=OPS)
        assert shown.ephemeral is not None and "Usage" in shown.ephemeral.text


async def test_whoami_status_pending_history(slack: SlackStandin, bot: RunningBot) -> None:
    assert "*acme*: requester" in await ask(slack, bot, "U0MULTI", "whoami")
    assert "*globex*: approver" in await ask(slack, bot, "U0MULTI", "whoami")
    assert "not a member" in await ask(slack, bot, "U0NOBODY", "whoami")
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    status = await slack.command("U0VIC", f"status #{request_id}", channel=OPS)
    assert status.ephemeral is not None and "Waiting for approval" in str(status.ephemeral.blocks)
    pending = await slack.command("U0BOB", "pending", channel=OPS)
    assert pending.ephemeral is not None and f"#{request_id}" in str(pending.ephemeral.blocks)
    other = await slack.command("U0GARY", f"status {request_id}", channel=OPS)
    assert other.ephemeral is not None and "no request" in other.ephemeral.text
    history = await slack.command("U0GARY", "history", channel=OPS)
    assert history.ephemeral is not None and "Nothing here" in str(history.ephemeral.blocks)


# -- trust: signatures, restarts, expiry -----------------------------------------------------


@pytest.mark.parametrize("how", ["bad", "missing", "stale"])
async def test_unsigned_or_stale_requests_get_401_and_do_nothing(
    slack: SlackStandin, bot: RunningBot, how: str
) -> None:
    body = (
        b"command=%2Fsfvopi&text=unlink+%2B918000000001+sfv_app_abc123xyz456+r"
        b"&user_id=U0ALICE&channel_id=C0OPS&team_id=T0TEST&trigger_id=1.2.3"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if how == "bad":
        headers |= slack.sign(body)
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif how == "stale":
        import time

        headers |= slack.sign(body, timestamp=int(time.time()) - 600)
    result = await slack.raw_post(body, headers)
    await bot.settle()
    assert result.status == 401
    assert await bot.services.store.list_requests(orgs=["acme"]) == []
    assert posted(slack) == []


async def test_the_bot_restarted_between_request_and_approval(
    slack: SlackStandin,
    bot_settings: Settings,
    orgs: object,
    emulator: Emulator,
) -> None:
    first = await start_bot(bot_settings, orgs, slack)  # type: ignore[arg-type]
    request_id = request_id_in(await ask(slack, first, "U0ALICE", UNLINK))
    await first.stop()
    second = await start_bot(bot_settings, orgs, slack)  # type: ignore[arg-type]
    try:
        await click(slack, second, "U0BOB", request_id, "approve")
    finally:
        await second.stop()
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1


async def test_the_sweeper_expires_requests_and_updates_their_cards(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    bot_clock.at = 4_000_000_000.0
    await bot.sweep_once()
    await bot.settle()
    expired = card(slack, request_id)
    assert "Expired" in card_text(expired) and expired.action_ids() in ([], ["sfvopi_undo"])
    assert "expired" in dms(slack, "U0ALICE")[-1]


async def test_a_card_lost_to_a_slack_outage_is_posted_by_the_sweeper(
    slack: SlackStandin, bot: RunningBot
) -> None:
    from bot.sandbox.slack_workspace import SlackServerError

    slack.fail("chat.postMessage", *[SlackServerError()] * 3)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    assert not slack.messages(APPROVALS)
    bot.services.notifier.clock = lambda: 4_000_000_000.0
    await bot.sweep_once()
    await bot.settle()
    assert card(slack, request_id).action_ids() != []


async def test_healthz_answers_200_only_while_the_database_answers(bot: RunningBot) -> None:
    import aiohttp
    from sqlalchemy.ext.asyncio import create_async_engine

    health = bot.url.replace("/slack/events", "/healthz")
    async with aiohttp.ClientSession() as http:
        async with http.get(health) as response:
            assert response.status == 200
        working = bot.services.store.engine
        bot.services.store.engine = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
        try:
            async with http.get(health) as response:
                assert response.status == 503
        finally:
            await bot.services.store.engine.dispose()
            bot.services.store.engine = working


async def test_a_duplicate_card_still_works_and_is_retired_by_its_first_click(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    live = card(slack, request_id)
    duplicate = slack.add_message(APPROVALS, live.text, blocks=live.blocks)
    result = await slack.click("U0BOB", APPROVALS, duplicate.ts, "sfvopi_approve")
    assert result.status == 200
    await bot.settle()
    await confirm_if_asked(slack, bot, "U0BOB")
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    retired = slack.message(APPROVALS, duplicate.ts)
    assert retired is not None and retired.action_ids() in ([], ["sfvopi_undo"])
    assert "posted twice" in str(retired.blocks) and "archives/C0APPROVALS" in str(retired.blocks)
    assert "Done" in card_text(card(slack, request_id))


async def test_an_announcement_refused_midway_is_finished_without_repeats(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    notifier = bot.services.notifier
    real_post = notifier.slack.chat_postMessage
    refused: list[str] = []

    async def outcome_channel_down(**kwargs: object) -> AsyncSlackResponse:
        if kwargs.get("channel") == OUTCOMES and not refused:
            refused.append(str(kwargs.get("text")))
            raise SlackApiError("channel down", {"ok": False, "error": "fatal_error"})
        return await real_post(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(notifier.slack, "chat_postMessage", outcome_channel_down)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    assert refused and not slack.messages(OUTCOMES)
    assert len(slack.thread(APPROVALS, card(slack, request_id).ts)) == 1
    assert len(dms(slack, "U0ALICE")) == 1

    notifier.clock = lambda: 4_000_000_000.0
    await bot.sweep_once()
    await bot.settle()
    assert len(slack.messages(OUTCOMES)) == 1
    assert len(slack.thread(APPROVALS, card(slack, request_id).ts)) == 1
    assert len(dms(slack, "U0ALICE")) == 1
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.notified_at is not None
