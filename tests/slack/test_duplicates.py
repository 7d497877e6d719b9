"""Two pending requests for the same target are one too many: the second is refused with a
link to the first one's card, unless the requester says `--again`. A burst of the same
command, all in flight at once, still files one (the database decides, not a prior read)."""

from __future__ import annotations

import asyncio

from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, UNLINK, ask, card, request_id_in


async def test_a_second_request_for_a_pending_target_points_at_the_first(
    slack: SlackStandin, bot: RunningBot
) -> None:
    first = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    live = card(slack, first)
    result = await slack.command("U0MULTI", f"--org acme {UNLINK}")
    assert result.ephemeral is not None
    shown = result.ephemeral.text
    assert f"already pending as request #{first}" in shown and "--again" in shown
    link = f"archives/{APPROVALS}/p{live.ts.replace('.', '')}"
    assert link in str(result.ephemeral.blocks)
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 1


async def test_again_files_a_second_one_on_purpose(slack: SlackStandin, bot: RunningBot) -> None:
    first = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    second = request_id_in(await ask(slack, bot, "U0ALICE", f"unlink --again {UNLINK[7:]}"))
    assert second != first
    assert "Waiting for approval" in str(card(slack, second).blocks)


async def test_a_burst_of_the_same_command_files_one_request_and_one_card(
    slack: SlackStandin, bot: RunningBot
) -> None:
    results = await asyncio.gather(*(slack.command("U0ALICE", UNLINK) for _ in range(10)))
    await bot.settle()
    shown = [r.ephemeral.text for r in results if r.ephemeral is not None]
    assert len(shown) == 10
    stored = await bot.services.store.list_requests(orgs=["acme"])
    assert len(stored) == 1, [r.id for r in stored]
    only = stored[0].id
    refused = [t for t in shown if f"already pending as request #{only}" in t]
    assert len(refused) == 9, shown
    assert len([m for m in slack.messages(APPROVALS) if f"request #{only}" in m.text]) == 1
    assert len(slack.messages(APPROVALS)) == 1
