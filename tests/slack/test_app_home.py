"""The App Home tab: what waits for my approval (with buttons that act exactly like the
card's), my requests, the latest decisions in my orgs; published on open and again whenever a
request concerning me changes. Over the real server and stand-ins, SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from bot.config.settings import Settings
from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackApiRefusal, SlackStandin
from bot.slack import blocks
from tests.support.bot import RunningBot, SocketBot
from tests.support.slack_user import (
    UNLINK,
    ask,
    card,
    click,
    click_on_home,
    home_text,
    open_home,
    request_id_in,
    type_and_submit,
)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The usual settings, on each database in turn."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


def publishes(slack: SlackStandin, user: str) -> int:
    return sum(
        1 for c in slack.calls if c.method == "views.publish" and c.params.get("user_id") == user
    )


async def test_the_home_shows_what_waits_for_me_my_requests_and_recent_decisions(
    slack: SlackStandin, bot: RunningBot
) -> None:
    waiting = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    denied = request_id_in(
        await ask(slack, bot, "U0ALICE", "delete sfv_app_def789ghi012 <!channel> decommission")
    )
    await click(slack, bot, "U0BOB", denied, "deny")
    await type_and_submit(slack, bot, "U0BOB", "still in use")

    home = await open_home(slack, bot, "U0CAROL")
    assert home.view["type"] == "home"
    # for Carol, an approver: the pending one, with the card's own buttons and value
    assert home.action_ids() == ["sfvopi_approve", "sfvopi_deny"]
    buttons = [e for b in home.view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {e["value"] for e in buttons} == {str(waiting)}
    shown = home_text(slack, "U0CAROL")
    assert "Latest decisions" in shown and f"*#{denied}*" in shown and "denied" in shown
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown  # inert

    alice = await open_home(slack, bot, "U0ALICE")
    # Alice asked for both: her own requests, and Cancel (not Approve) on the pending one
    assert alice.action_ids() == ["sfvopi_cancel"]
    text = home_text(slack, "U0ALICE")
    assert "Your requests" in text and f"*#{waiting}*" in text and f"*#{denied}*" in text
    assert "Nothing waits for you." in text

    outsider = await open_home(slack, bot, "U0EVE")
    assert "not a member of any organization" in home_text(slack, "U0EVE")
    assert outsider.action_ids() in ([], ["sfvopi_undo"])


async def test_approving_from_the_home_runs_the_request_like_the_card(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await open_home(slack, bot, "U0BOB")
    await click_on_home(slack, bot, "U0BOB", request_id, "approve")

    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.SUCCEEDED
    # and the Home itself was brought up to date
    await slack.wait_for(lambda: "Nothing waits for you." in home_text(slack, "U0BOB"), 10)


async def test_deny_from_the_home_asks_why(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await open_home(slack, bot, "U0BOB")
    await click_on_home(slack, bot, "U0BOB", request_id, "deny")
    assert slack.modal_of("U0BOB") is not None
    await type_and_submit(slack, bot, "U0BOB", "not during the freeze")

    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.DENIED
    assert stored.decision_note == "not during the freeze"


async def test_a_refused_click_on_the_home_is_told_on_the_home(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await open_home(slack, bot, "U0BOB")
    await open_home(slack, bot, "U0CAROL")
    await click(slack, bot, "U0CAROL", request_id, "approve")  # decided on the card meanwhile
    # Bob's Home may still show the old buttons if he clicks before it refreshes
    stale = slack.homes["U0BOB"]
    stale.view = {"type": "home", "blocks": [dict(b) for b in stale.view["blocks"]]}
    request = await bot.services.store.get(request_id)
    assert request is not None
    stale.view["blocks"].append(blocks.decision_buttons(request, requester=False))
    assert "already" not in home_text(slack, "U0BOB")
    await click_on_home(slack, bot, "U0BOB", request_id, "approve")

    assert "already" in home_text(slack, "U0BOB")
    assert slack.ephemerals("U0BOB") == []


async def test_a_forged_button_value_on_the_home_is_refused_like_on_the_card(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    theirs = request_id_in(
        await ask(slack, bot, "U0GINA", "delete app_glx0001 tidy up", channel="C0GLX")
    )
    mine = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    home = await open_home(slack, bot, "U0BOB")
    forged = [e for b in home.view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    for element in forged:
        element["value"] = str(theirs)
    await click_on_home(slack, bot, "U0BOB", theirs, "approve")

    assert f"no request #{theirs}" in home_text(slack, "U0BOB")
    for request_id in (theirs, mine):
        stored = await bot.services.store.get(request_id)
        assert stored is not None and stored.status is Status.PENDING
    assert not emulator.writes


async def test_the_home_is_republished_when_a_request_concerning_me_changes(
    slack: SlackStandin, bot: RunningBot
) -> None:
    await open_home(slack, bot, "U0BOB")
    await open_home(slack, bot, "U0ALICE")
    await open_home(slack, bot, "U0GARY")  # globex: not concerned
    before = {u: publishes(slack, u) for u in ("U0BOB", "U0ALICE", "U0GARY", "U0CAROL")}

    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await slack.wait_for(lambda: f"request #{request_id}*" in home_text(slack, "U0BOB"), 10)
    assert "sfvopi_approve" in slack.homes["U0BOB"].action_ids()
    assert f"*#{request_id}*" in home_text(slack, "U0ALICE")
    assert publishes(slack, "U0GARY") == before["U0GARY"]
    assert publishes(slack, "U0CAROL") == 0  # concerned, but never opened the Home

    await click(slack, bot, "U0BOB", request_id, "approve")
    await slack.wait_for(lambda: "Nothing waits for you." in home_text(slack, "U0BOB"), 10)
    assert "succeeded" in home_text(slack, "U0ALICE")


async def test_a_home_slack_refuses_to_publish_breaks_nothing(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    await open_home(slack, bot, "U0BOB")
    slack.fail("views.publish", *[SlackApiRefusal("not_enabled")] * 10)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")

    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.SUCCEEDED
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    assert "could not publish the Home of U0BOB (not_enabled)" in caplog.text


async def test_the_home_over_socket_mode(
    slack: SlackStandin, socket_bot: SocketBot, emulator: Emulator
) -> None:
    result = await slack.command("U0ALICE", UNLINK)
    assert result.transport == "socket" and result.ephemeral is not None
    request_id = request_id_in(result.ephemeral.text)
    await socket_bot.settle()

    await open_home(slack, socket_bot, "U0BOB")
    assert f"request #{request_id}*" in home_text(slack, "U0BOB")
    await click_on_home(slack, socket_bot, "U0BOB", request_id, "approve")

    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    await slack.wait_for(lambda: "Nothing waits for you." in home_text(slack, "U0BOB"), 10)


@pytest.mark.parametrize("tab", ["missing", None, "home"])
async def test_an_opening_that_names_no_tab_publishes_the_home(
    slack: SlackStandin, bot: RunningBot, tab: str | None
) -> None:
    """Slack's types make `tab` optional: only an explicit other tab (Messages) is not Home."""
    event: dict[str, object] = {
        "type": "app_home_opened",
        "user": "U0BOB",
        "channel": slack.dm_channel("U0BOB"),
    }
    if tab != "missing":
        event["tab"] = tab
    assert (await slack.send_event(event)).ok
    await bot.settle()
    assert publishes(slack, "U0BOB") == 1


async def test_opening_the_messages_tab_publishes_nothing(
    slack: SlackStandin, bot: RunningBot
) -> None:
    event = {"type": "app_home_opened", "user": "U0BOB", "channel": slack.dm_channel("U0BOB")}
    assert (await slack.send_event(event | {"tab": "messages"})).ok
    await bot.settle()
    assert publishes(slack, "U0BOB") == 0
