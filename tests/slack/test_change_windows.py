"""Change windows and `--at` as people meet them in Slack, over the bot's real HTTP server with
signed requests (the workflow's clock set by the test): an approval outside the window leaves
the card "Approved — runs at 10:00 UTC (window …)" and tells the requester, nothing is
called until the sweep finds the window open, then it runs once; `--at` is taken from the
command and refused in the past with nothing filed."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import BotClock, RunningBot
from tests.support.orgs import ORGS_YAML
from tests.support.slack_user import UNLINK, ask, card, card_text, click, dms, request_id_in

START = 1_800_000_000.0  # Friday 2027-01-15, 08:00 UTC
HOUR = 3600.0


@pytest.fixture
def orgs_yaml() -> str:
    window = 'windows: [{days: mon-sun, from: "10:00", to: "11:00", tz: UTC}]'
    return ORGS_YAML.replace(
        "      unlink: {approvals: 1}\n", f"      unlink: {{approvals: 1, {window}}}\n", 1
    )


@pytest.fixture
def bot_clock() -> BotClock:
    clock = BotClock()
    clock.at = START
    return clock


async def test_approved_outside_its_window_the_card_says_when_and_it_runs_once_then(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    held = card_text(card(slack, request_id))
    assert "Approved — runs at 10:00 UTC (window every day 10:00-11:00 UTC)" in held
    assert "sfvopi_approve" not in held  # decided: no buttons
    await bot.sweep_once()  # the outbox tells the requester
    await bot.settle()
    told = [t for t in dms(slack, "U0ALICE") if f"#{request_id}" in t]
    assert len(told) == 1 and "was approved by <@U0BOB>; it runs at 10:00 UTC" in told[0]
    assert not emulator.writes

    bot_clock.at = START + 2 * HOUR - 1
    await bot.sweep_once()
    assert not emulator.writes
    bot_clock.at = START + 2 * HOUR
    await bot.sweep_once()
    await bot.sweep_once()
    await bot.settle()
    assert len(emulator.writes) == 1
    assert ":white_check_mark: Done" in card_text(card(slack, request_id))


async def test_at_is_taken_from_the_command_and_refused_in_the_past(
    slack: SlackStandin, bot: RunningBot
) -> None:
    reply = await ask(
        slack,
        bot,
        "U0ALICE",
        "unlink --at 2027-01-15T16:00+05:30 +918000000001 sfv_app_abc123xyz456 fraud",
    )
    assert "runs no earlier than" in reply
    request = await bot.services.store.get(request_id_in(reply))
    assert request is not None and request.run_after == START + 2.5 * HOUR

    past = await ask(
        slack, bot, "U0ALICE", "unlink +918000000002 sfv_app_abc123xyz456 --at 2027-01-15T07:00Z x"
    )
    assert "is in the past" in past
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 1
