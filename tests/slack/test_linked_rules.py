"""Rules selecting by the numbers a delete would unlink, as people meet them in Slack over the
bot's real HTTP server (signed commands and clicks, the emulator's apps with many numbers):
the preview read after the ack gives the count; a deny rule closes the request in its words,
on the card and to the requester, whether the count came after filing or in a drift, or a
reloaded file's rule now denies it; a stricter rule raises the approvals the card asks. On
each database."""

from __future__ import annotations

import asyncio

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot, start_bot
from tests.support.drift import link_behind
from tests.support.emulator import ACME_KEY
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.policy_orgs import LINKED_SAYS, with_linked_rules
from tests.support.slack_user import ask, card, card_text, click, dms, request_id_in, thread

CROWD = "sfv_app_crowd000001"
WIRED = "sfv_app_wired000001"
TENTH = "+918100000299"


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


@pytest.fixture
def orgs_yaml() -> str:
    """acme deletes with 1 approval, and the two rules bounding the linked count."""
    return with_linked_rules(ORGS_YAML)


async def test_a_crowded_app_s_delete_is_closed_in_the_rule_s_words(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    emulator.add_app(ACME_KEY, CROWD, [f"+9181000001{i:02d}" for i in range(12)])
    reply = await ask(slack, bot, "U0ALICE", f"delete {CROWD} decommission CHG-6")
    request_id = request_id_in(reply)
    await bot.settle()
    words = f"{LINKED_SAYS} (rule 1 'crowded'"
    shown = card_text(card(slack, request_id))
    assert ":no_entry: Denied" in shown and words in shown
    assert not card(slack, request_id).action_ids()  # nothing left to click
    assert any("denied" in text and words in text for text in dms(slack, "U0ALICE"))
    request = await bot.services.store.get(request_id)
    assert request is not None and request.status.value == "denied"
    assert emulator.has_app(ACME_KEY, CROWD)


async def test_a_wired_app_needs_the_rule_s_three_approvals(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    emulator.add_app(ACME_KEY, WIRED, ["+918100000001", "+918100000002", "+918100000003"])
    reply = await ask(slack, bot, "U0ALICE", f"delete {WIRED} decommission CHG-7")
    assert "waiting for 1 approval" in reply  # the count is not read before the ack
    request_id = request_id_in(reply)
    await bot.settle()
    shown = card_text(card(slack, request_id))
    assert "rule 2 'wired' — 3 approvals" in shown

    await click(slack, bot, "U0BOB", request_id, "approve")
    await click(slack, bot, "U0CAROL", request_id, "approve")
    assert emulator.has_app(ACME_KEY, WIRED)  # 2 of 3: the rule's count, not the policy's 1
    await click(slack, bot, "U0DAVE", request_id, "approve")
    assert not emulator.has_app(ACME_KEY, WIRED)


async def test_a_drift_to_a_count_a_deny_rule_bounds_closes_it_in_the_rule_s_words(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    """Nine numbers ('wired': 3 approvals); a tenth linked behind the bot's back between the
    second and third approvals: the read before the run finds ten, which 'crowded' denies.
    Before: back at pending, every approval refused, until it expired."""
    emulator.add_app(ACME_KEY, WIRED, [f"+9181000002{i:02d}" for i in range(9)])
    emulator.add_numbers(ACME_KEY, [TENTH])
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", f"delete {WIRED} CHG-8"))
    await bot.settle()
    await click(slack, bot, "U0BOB", request_id, "approve")
    await click(slack, bot, "U0CAROL", request_id, "approve")
    await link_behind(emulator, TENTH, WIRED)

    await click(slack, bot, "U0DAVE", request_id, "approve")
    await bot.settle()

    assert emulator.has_app(ACME_KEY, WIRED)  # not run
    words = f"{LINKED_SAYS} (rule 1 'crowded', for {WIRED})"
    shown = card_text(card(slack, request_id))
    assert ":no_entry: Denied" in shown and words in shown
    assert not card(slack, request_id).action_ids()
    (line,) = [t for t in thread(slack, request_id) if "did not run" in t]
    assert f"{TENTH} is now linked to {WIRED}" in line
    (notice,) = [t for t in dms(slack, "U0ALICE") if "denied" in t]  # told once
    assert words in notice
    events = await bot.services.store.events(request_id)
    drift, denied = [e for e in events if e.kind in ("drifted", "denied")]
    assert (drift.kind, denied.kind, denied.actor) == ("drifted", "denied", "bot")
    assert denied.detail == {"reason": words}


async def test_a_reloaded_file_that_denies_a_pending_request_closes_it_once(
    slack: SlackStandin,
    bot: RunningBot,
    bot_settings: Settings,
    orgs: OrgDirectory,
    emulator: Emulator,
) -> None:
    """Five numbers: 'wired', pending. The file is reloaded on two replicas at once with
    'crowded' denying from five numbers: denied by the bot in its words, once; the card says
    so and the requester is told once. Before: approvals refused until it expired."""
    emulator.add_app(ACME_KEY, WIRED, [f"+9181000003{i:02d}" for i in range(5)])
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", f"delete {WIRED} CHG-9"))
    await bot.settle()
    assert "rule 2 'wired' — 3 approvals" in card_text(card(slack, request_id))
    second = await start_bot(bot_settings, orgs, slack)
    try:
        stricter = with_linked_rules(ORGS_YAML).replace(
            "min_linked_numbers: 10", "min_linked_numbers: 5", 1
        )
        reloaded = parse_orgs(stricter, ORG_ENV)
        await asyncio.gather(bot.reload_orgs(reloaded), second.reload_orgs(reloaded))
        await asyncio.gather(bot.settle(), second.settle())
    finally:
        await second.stop()

    words = f"{LINKED_SAYS} (rule 1 'crowded', for {WIRED})"
    shown = card_text(card(slack, request_id))
    assert ":no_entry: Denied" in shown and words in shown
    assert not card(slack, request_id).action_ids()
    (notice,) = [t for t in dms(slack, "U0ALICE") if "denied" in t]  # told once
    assert words in notice
    kinds = [e.kind for e in await bot.services.store.events(request_id)]
    assert kinds.count("denied") == 1
    assert emulator.has_app(ACME_KEY, WIRED)
