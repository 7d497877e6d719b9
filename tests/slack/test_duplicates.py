"""Two pending requests for the same target are one too many: the second is refused with a
link to the first one's card, unless the requester says `--again`."""

from __future__ import annotations

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
