"""A click changes nothing until it is authorized for its request, and only a message that is
provably that request's card is ever rewritten.

Before, the duplicate-card retirement ran after every click, even a refused one, trusting the
button value and the clicked message: a stranger's forged click replaced another request's
live card with "This card … was posted twice".
"""

from __future__ import annotations

from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, ask, card, request_id_in

DELETE = "delete sfv_app_abc123xyz456 decommission, CHG-1207"
OTHER = "delete sfv_app_def789ghi012 another one, CHG-1208"


async def test_a_strangers_forged_click_rewrites_no_card(
    slack: SlackStandin, bot: RunningBot
) -> None:
    first = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    second = request_id_in(await ask(slack, bot, "U0ALICE", OTHER))
    victim = card(slack, second)
    before = (victim.text, victim.blocks)
    updated = [c for c in slack.calls if c.method == "chat.update"]  # each card's preview
    for stranger in ("U0NOBODY", "U0GARY", "U0VIC"):  # no org, another org, a viewer
        result = await slack.click(
            stranger, APPROVALS, victim.ts, "sfvopi_approve", value=str(first)
        )
        assert result.status == 200
        await bot.settle()
    after = card(slack, second)
    assert (after.text, after.blocks) == before
    assert card(slack, first).action_ids() != []
    updates = [c for c in slack.calls if c.method == "chat.update"]
    assert updates == updated


async def test_an_approvers_click_on_another_requests_card_rewrites_nothing(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """Authorized for request A, but the message is B's card: B's card is not A's duplicate."""
    first = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    second = request_id_in(await ask(slack, bot, "U0ALICE", OTHER))
    victim = card(slack, second)
    before = victim.blocks
    result = await slack.click("U0BOB", APPROVALS, victim.ts, "sfvopi_deny", value=str(first))
    assert result.status == 200
    await bot.settle()
    assert card(slack, second).blocks == before
    assert "posted twice" not in str(card(slack, second).blocks)


async def test_a_real_duplicate_is_still_retired_by_an_authorized_click(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    live = card(slack, request_id)
    duplicate = slack.add_message(APPROVALS, live.text, blocks=live.blocks)
    await slack.click("U0NOBODY", APPROVALS, duplicate.ts, "sfvopi_approve")
    await bot.settle()
    assert slack.message(APPROVALS, duplicate.ts).action_ids() != []  # type: ignore[union-attr]
    await slack.click("U0BOB", APPROVALS, duplicate.ts, "sfvopi_approve")
    await bot.settle()
    retired = slack.message(APPROVALS, duplicate.ts)
    assert retired is not None and retired.action_ids() in ([], ["sfvopi_undo"])
    assert "posted twice" in str(retired.blocks)


async def test_a_copy_posted_by_someone_else_is_never_rewritten(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """Same blocks, but not the bot's message: not a card of ours, whatever it looks like."""
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    live = card(slack, request_id)
    copy = slack.add_message(APPROVALS, live.text, blocks=live.blocks, user="U0MALLORY")
    await slack.click("U0BOB", APPROVALS, copy.ts, "sfvopi_approve")
    await bot.settle()
    kept = slack.message(APPROVALS, copy.ts)
    assert kept is not None and kept.action_ids() != []
