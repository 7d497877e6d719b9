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
from tests.support.slack_user import (
    OPS,
    UNLINK,
    ask,
    card,
    card_text,
    click,
    click_for_reason,
    dms,
    home_text,
    open_home,
    request_id_in,
    type_and_submit,
)

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


async def test_a_scheduled_request_is_listed_runs_at_and_may_be_cancelled(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock, emulator: Emulator
) -> None:
    """Held for its window: `/sfvopi pending` and the requester's Home list it "runs at
    10:00 UTC"; Alice cancels one from its card, Dave (an admin) the other by command;
    Bob (an approver) may not; nothing runs when the window opens."""
    first = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    second = request_id_in(
        await ask(slack, bot, "U0ALICE", "unlink +918000000002 sfv_app_abc123xyz456 tidy CHG-3")
    )
    for request_id in (first, second):
        await click(slack, bot, "U0BOB", request_id, "approve")

    listed = await slack.command("U0VIC", "pending", channel=OPS)
    shown = "\n".join(b["text"]["text"] for b in (listed.ephemeral.blocks or ()))  # type: ignore[union-attr]
    assert f"*#{first}* unlink" in shown and "scheduled" in shown
    assert shown.count("runs at <!date^") == 2 and "10:00 UTC" in shown
    home = await open_home(slack, bot, "U0ALICE")
    assert "runs at <!date^" in home_text(slack, "U0ALICE")
    assert any(b.get("block_id") == f"sfvopi_mine_{first}" for b in home.view["blocks"])

    bob = await ask(slack, bot, "U0BOB", f"cancel {second} not mine")
    assert "only the requester or an admin can cancel" in bob
    modal = await click_for_reason(slack, bot, "U0ALICE", first, "cancel")
    assert modal is not None
    await type_and_submit(slack, bot, "U0ALICE", "change postponed")
    dave = await ask(slack, bot, "U0DAVE", f"cancel {second} freeze came early")
    assert f"Request #{second} is cancelled." in dave
    for request_id in (first, second):
        request = await bot.services.store.get(request_id)
        assert request is not None and request.status.value == "cancelled"
    assert ":heavy_multiplication_x: Cancelled" in card_text(card(slack, first))

    bot_clock.at = START + 2 * HOUR
    await bot.sweep_once()
    await bot.settle()
    assert not emulator.writes
