"""The two-person rule holds while a request waits for its change window: a request held
after its quorum runs only if, when the sweep would claim it, the org file in force still
counts that quorum (its approvers still approve, the policy asks no more) and its requester
is still a requester. Otherwise the bot cancels it, saying why, and nothing is called; while
a user group its rule names is not listed yet, it waits for the list rather than cancel.

Over the bot's real HTTP server with signed requests; the org file is reloaded as SIGHUP does.
"""

from __future__ import annotations

import pytest

from bot.config.orgfile import parse_orgs
from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import BotClock, RunningBot
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack_user import UNLINK, ask, card, card_text, click, request_id_in

START = 1_800_000_000.0  # Friday 2027-01-15, 08:00 UTC; the window opens at 10:00
HOUR = 3600.0
WINDOW = 'windows: [{days: mon-sun, from: "10:00", to: "11:00", tz: UTC}]'
WINDOWED = ORGS_YAML.replace(
    "      unlink: {approvals: 1}\n", f"      unlink: {{approvals: 1, {WINDOW}}}\n", 1
)
ONCALL = "S0ONCALL"
TTL = "      ttl_minutes: 60\n"
ON_CALL = WINDOWED.replace(
    TTL, f"      rules: [{{name: on call, action: unlink, approvers: [{ONCALL}]}}]\n{TTL}", 1
)


@pytest.fixture
def orgs_yaml() -> str:
    return WINDOWED


@pytest.fixture
def bot_clock() -> BotClock:
    clock = BotClock()
    clock.at = START
    return clock


async def _held(slack: SlackStandin, bot: RunningBot) -> int:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    held = await bot.services.store.get(request_id)
    assert held is not None and held.status is Status.SCHEDULED
    return request_id


async def _window_opens(bot: RunningBot, bot_clock: BotClock, yaml: str) -> None:
    await bot.reload_orgs(parse_orgs(yaml, ORG_ENV))
    await bot.settle()
    bot_clock.at = START + 2 * HOUR
    await bot.sweep_once()
    await bot.sweep_once()
    await bot.settle()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("      U0BOB: approver\n", "approvals it was held on no longer meet its quorum"),
        ("      U0ALICE: requester\n", "its requester is no longer a requester in acme"),
    ],
    ids=["approver-removed", "requester-removed"],
)
async def test_a_held_request_whose_people_changed_is_cancelled_not_run(
    slack: SlackStandin,
    bot: RunningBot,
    bot_clock: BotClock,
    emulator: Emulator,
    change: str,
    said: str,
) -> None:
    request_id = await _held(slack, bot)
    await _window_opens(bot, bot_clock, WINDOWED.replace(change, ""))
    assert not emulator.writes
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.CANCELLED
    assert stored.decision_note is not None and said in stored.decision_note
    shown = card_text(card(slack, request_id))
    assert "cancelled by the bot" in shown and said in shown


async def test_a_held_request_whose_people_still_stand_runs_in_its_window(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock, emulator: Emulator
) -> None:
    request_id = await _held(slack, bot)
    await _window_opens(bot, bot_clock, WINDOWED.replace("      U0VIC: viewer\n", ""))
    assert len(emulator.writes) == 1
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.SUCCEEDED


async def test_a_held_request_waits_while_the_group_its_rule_names_is_unread(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock, emulator: Emulator
) -> None:
    """A reload makes Bob approve as a member of the on-call group, which Slack is slow to
    list when the window opens: the sweep waits for the list rather than count Bob out (and
    cancel what he rightly approved), then runs it once the list says he is on call."""
    slack.set_usergroup(ONCALL, ["U0BOB"])
    request_id = await _held(slack, bot)
    slack.slow_down("usergroups.users.list", 3)  # a replica's first read, say, not back yet
    await _window_opens(bot, bot_clock, ON_CALL)
    assert not emulator.writes
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.SCHEDULED

    slack.slow_down("usergroups.users.list", 0)
    assert bot.services.groups is not None
    await bot.services.groups.refresh([ONCALL])
    await bot.sweep_once()
    await bot.settle()
    done = await bot.services.store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert len(emulator.writes) == 1
