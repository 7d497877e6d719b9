"""Limits as a requester meets them in Slack, over the bot's real HTTP server with signed
slash commands: the 21st target unlinked within the hour is refused saying when it frees up,
nothing filed; the hour past, it files; a workflow step is refused alike; `/sfvopi policy`
names the limit. On each database."""

from __future__ import annotations

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import BotClock, RunningBot
from tests.support.emulator import ACME_KEY
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.policy_orgs import with_limits
from tests.support.slack_user import APPROVALS, ask, card, card_text, click, request_id_in

TEN = 1_796_637_600.0  # 2026-12-07 10:00 UTC
APP = "sfv_app_abc123xyz456"


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


@pytest.fixture
def orgs_yaml() -> str:
    """acme with at most 20 targets unlinked per requester per hour, and workflow steps."""
    limited = with_limits(ORGS_YAML)
    return limited.replace("  globex:\n", "    workflow_steps: {enabled: true}\n  globex:\n", 1)


def unlink(first: int, count: int) -> str:
    numbers = " ".join(f"+9180000{first + i:05d}" for i in range(count))
    return f"unlink {numbers} {APP} cleanup CHG-{first}"


async def test_the_21st_target_is_refused_with_when_it_frees(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock
) -> None:
    bot_clock.at = TEN
    assert "waiting for 1 approval" in await ask(slack, bot, "U0ALICE", unlink(0, 15))
    bot_clock.at = TEN + 240
    assert "waiting for 1 approval" in await ask(slack, bot, "U0ALICE", unlink(100, 5))
    cards = len(slack.messages(APPROVALS))

    refused = await ask(slack, bot, "U0ALICE", unlink(200, 1))
    assert (
        "limit 1 'bulk unlink': at most 20 targets unlinked per requester per hour; 20 used, "
        "this request is 1; frees at 11:00 UTC. Nothing was filed." in refused
    )
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 2
    assert len(slack.messages(APPROVALS)) == cards

    # another requester has a count of their own
    assert "waiting for 1 approval" in await ask(slack, bot, "U0BOB", unlink(300, 1))

    bot_clock.at = TEN + 3600  # the first 15 left the window
    filed = await ask(slack, bot, "U0ALICE", unlink(200, 1))
    assert "waiting for 1 approval" in filed
    events = await bot.services.store.events(request_id_in(filed))
    assert events[0].detail["limits"] == [
        {"index": 1, "name": "bulk unlink", "used": 5, "asked": 1, "most": 20}
        | {"per": "requester", "within": 3600}
    ]


async def test_policy_names_the_limit_that_applies(slack: SlackStandin, bot: RunningBot) -> None:
    asked = await slack.command("U0VIC", f"policy unlink +918000000001 {APP}", channel="C0OPS")
    assert asked.ephemeral is not None
    shown = "\n".join(b["text"]["text"] for b in asked.ephemeral.blocks or ())
    assert "It counts against limit 1 'bulk unlink'" in shown
    assert "at most 20 targets unlinked per requester per hour" in shown


async def test_a_workflow_step_over_the_limit_fails_saying_so(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock
) -> None:
    bot_clock.at = TEN
    assert "waiting for 1 approval" in await ask(slack, bot, "U0ALICE", unlink(0, 20))
    numbers = "+918000000500 " + APP
    inputs = {"org": "acme", "reason": "cleanup CHG-3", "requester": "U0ALICE"}
    run, delivered = await slack.run_step("unlink_numbers", inputs | {"targets": numbers})
    assert delivered.ok
    await bot.settle()
    await slack.wait_for(lambda: run.state != "running", timeout=20.0)
    assert run.state == "failed" and run.error is not None
    assert "at most 20 targets unlinked per requester per hour; 20 used" in run.error
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 1


NEEDS_ADMIN = """\
      limits:
        - name: bulk unlink
          action: unlink
          per: requester
          targets: 2
          within: 1h
          over: needs_admin
"""


async def test_over_a_needs_admin_limit_the_card_says_an_admin_must_approve_too(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock, emulator: Emulator
) -> None:
    """The 3rd target within the hour is filed, one approval more: two approvers are not
    enough; Dave, an admin, completes it."""
    await bot.reload_orgs(parse_orgs(with_limits(ORGS_YAML, NEEDS_ADMIN), ORG_ENV))
    bot_clock.at = TEN
    assert "waiting for 1 approval " in await ask(slack, bot, "U0ALICE", unlink(0, 2))
    emulator.add_app(ACME_KEY, "sfv_app_over1", {"+918000000777"})
    reply = await ask(slack, bot, "U0ALICE", "unlink +918000000777 sfv_app_over1 cleanup CHG-77")
    assert "waiting for 2 approvals" in reply
    assert "an admin must approve too" in reply
    request_id = request_id_in(reply)
    shown = card_text(card(slack, request_id))
    assert (
        "over limit 1 'bulk unlink' (at most 2 targets unlinked per requester per hour: 2 "
        "used, this request 1): an admin must approve too" in shown
    )
    assert "1 from admins: nobody yet" in shown

    await click(slack, bot, "U0BOB", request_id, "approve")
    await click(slack, bot, "U0CAROL", request_id, "approve")
    assert emulator.numbers(ACME_KEY, "sfv_app_over1") == {"+918000000777"}  # no admin yet
    await click(slack, bot, "U0DAVE", request_id, "approve")
    assert emulator.numbers(ACME_KEY, "sfv_app_over1") == set()
    assert ":white_check_mark: 1 from admins: <@U0DAVE>" in card_text(card(slack, request_id))
