"""Undo in Slack, end to end over real sockets (the bot's HTTP server, signed requests from the
Slack stand-in, the SFVoPI emulator): an unlink approved and run shows Undo on its card and in
the requester's notice; a click files the undo, whoever clicked cannot approve it, another
approver does, and the numbers are linked again; the card then says who undid it. `/sfvopi undo N`
refuses what may not be undone."""

from __future__ import annotations

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, ask, card, card_text, click, request_id_in
from tests.support.undo import ACME_KEY, store_of

APP = "sfv_app_def789ghi012"
NUMBERS = ("+918000000003", "+918000000004")
UNLINK = f"unlink {NUMBERS[0]} {NUMBERS[1]} {APP} fraud on these DIDs, INC-4411"


async def ran_unlink(bot: RunningBot, slack: SlackStandin, emulator: Emulator) -> int:
    """U0ALICE's unlink, approved by U0BOB, run (the bot reads its pre-image first)."""
    original = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", original, "approve")
    assert emulator.numbers(ACME_KEY, APP) == set()
    return original


def told(slack: SlackStandin, user: str) -> str:
    return slack.ephemerals(user)[-1].text


async def test_undo_from_the_card_links_the_numbers_again(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    original = await ran_unlink(bot, slack, emulator)
    shown = card(slack, original)
    assert shown.action_ids() == ["sfvopi_undo"]
    assert f"/sfvopi undo {original}" in card_text(shown)
    (notice,) = [m for m in slack.dms("U0ALICE") if f"#{original}" in m.text]
    assert notice.action_ids() == ["sfvopi_undo"]

    viewer = await slack.click("U0VIC", APPROVALS, shown.ts, "sfvopi_undo")
    assert viewer.status == 200
    await bot.settle()
    assert "viewer" in told(slack, "U0VIC")

    clicked = await slack.click("U0DAVE", APPROVALS, shown.ts, "sfvopi_undo")  # an admin
    assert clicked.status == 200
    await bot.settle()
    undo = request_id_in(told(slack, "U0DAVE"))
    assert f"undoes #{original}" in told(slack, "U0DAVE")
    assert "Undo requested" in card_text(card(slack, original))
    assert card(slack, original).action_ids() == []
    undo_card = card_text(card(slack, undo))
    assert f"Undo request #{original}" in undo_card and f"`{NUMBERS[0]}` back on" in undo_card

    await click(slack, bot, "U0DAVE", undo, "approve")
    assert "cannot approve your own request" in told(slack, "U0DAVE")
    await click(slack, bot, "U0BOB", undo, "approve")
    assert emulator.numbers(ACME_KEY, APP) == set(NUMBERS)
    assert f"Undone by request #{undo}" in card_text(card(slack, original))
    events = [e.kind for e in await store_of(bot.services).events(original)]
    assert events.count("undone") == 1

    again = await ask(slack, bot, "U0ALICE", f"undo {original}")
    assert f"already undone (by request #{undo})" in again


async def test_undo_from_the_requesters_notice_and_the_command(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    original = await ran_unlink(bot, slack, emulator)
    (notice,) = [m for m in slack.dms("U0ALICE") if f"#{original}" in m.text]
    clicked = await slack.click("U0ALICE", notice.channel, notice.ts, "sfvopi_undo")
    assert clicked.status == 200
    await bot.settle()
    undo = request_id_in(told(slack, "U0ALICE"))
    second = await ask(slack, bot, "U0ALICE", f"undo {original} once more")
    assert f"being undone by request #{undo}" in second
    assert "no request #999" in await ask(slack, bot, "U0ALICE", "undo 999")
    assert "no request" in await ask(slack, bot, "U0GINA", f"undo {original}")  # globex's
    assert "itself an undo" in await ask(slack, bot, "U0ALICE", f"undo {undo}")
