"""What an undo's card says it touches, over real sockets: the numbers its unlink took away
are not linked now, which is what the undo puts right, so the card says the undo links each
again and its requester is not told "nothing to do" (before: the undo was read as an unlink,
so the card said "is not linked …: nothing to do" for every target and the requester was
sent that by DM)."""

from __future__ import annotations

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.slack.test_undo_flow import APP, NUMBERS, ran_unlink
from tests.support.bot import RunningBot
from tests.support.slack_user import ask, card, card_text, request_id_in


async def test_an_undos_card_says_it_links_the_numbers_again(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    original = await ran_unlink(bot, slack, emulator)
    undo = request_id_in(await ask(slack, bot, "U0ALICE", f"undo {original} wrong DIDs"))
    await bot.sweep_once()
    await bot.settle()
    shown = card_text(card(slack, undo))
    assert "nothing to do" not in shown
    for number in NUMBERS:
        assert f"`{number}` is not linked to `{APP}` now: the undo links it again" in shown
    assert not [
        m.text for m in slack.dms("U0ALICE") if f"#{undo}" in m.text and "nothing" in m.text
    ]
