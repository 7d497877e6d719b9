"""Nothing Slack refuses is left unsaid: the requester hears at once what is wrong and how to
fix it, the request stays pending, its card is posted once the cause is gone, and status and
/healthz count what is stuck. Slack's refusals are the stand-in's standing ones, as an admin
would leave a workspace: the bot not invited, a channel archived, a scope removed, a token
revoked."""

from __future__ import annotations

import aiohttp
import pytest

from bot.core.models import Status
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import (
    APPROVALS,
    OUTCOMES,
    UNLINK,
    ask,
    card,
    click,
    dms,
    request_id_in,
)

FAR_FUTURE = 4_000_000_000.0


async def sweep(bot: RunningBot) -> None:
    bot.services.notifier.clock = lambda: FAR_FUTURE  # every lease has lapsed
    await bot.sweep_once()
    await bot.settle()


async def healthz(bot: RunningBot) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(bot.url.replace("/slack/events", "/healthz")) as response,
    ):
        assert response.status == 200
        body: dict[str, object] = await response.json()
        return body


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("not_in_channel", "invite it there (`/invite @sfvopi-bot`)"),
        ("is_archived", "is archived: unarchive it"),
        ("channel_not_found", "does not exist or the bot cannot see it"),
    ],
)
async def test_a_refused_card_is_explained_then_posted_once_fixed(
    slack: SlackStandin, bot: RunningBot, error: str, fix: str
) -> None:
    slack.refuse_channel(APPROVALS, error)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    assert not slack.messages(APPROVALS)
    (told,) = dms(slack, "U0ALICE")
    assert f"Request #{request_id}: its approval card could not be posted" in told
    assert fix in told and "stays pending" in told

    status = await slack.command("U0ALICE", f"status {request_id}")
    assert status.ephemeral is not None and fix in str(status.ephemeral.blocks)
    assert (await healthz(bot))["stuck"] == 1  # which one, for the metrics token only

    await sweep(bot)  # still refused: retried, not told twice
    assert len(dms(slack, "U0ALICE")) == 1
    slack.allow_channel(APPROVALS)
    await sweep(bot)
    assert card(slack, request_id).action_ids() != []
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert stored.slack_problem is None
    assert "stuck" not in await healthz(bot)


async def test_a_revoked_token_is_told_as_an_admins_job(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """The DM is refused too: the requester hears it where they typed the command."""
    slack.revoke_token("token_revoked")
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    told = [e.text for e in slack.ephemerals("U0ALICE") if not e.from_ack]
    assert any(
        f"Request #{request_id}" in t and "reinstall the app and update SLACK_BOT_TOKEN" in t
        for t in told
    )
    slack.restore_token()
    await sweep(bot)
    assert card(slack, request_id).action_ids() != []


async def test_a_missing_scope_is_named(slack: SlackStandin, bot: RunningBot) -> None:
    slack.drop_scope("chat.postMessage")
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    told = [e.text for e in slack.ephemerals("U0ALICE") if not e.from_ack]
    assert any(f"#{request_id}" in t and "reinstall it from manifest.yml" in t for t in told)


async def test_a_refused_outcome_line_is_told_and_retried_without_repeats(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    slack.refuse_channel(OUTCOMES, "not_in_channel")
    await click(slack, bot, "U0BOB", request_id, "approve")
    notices = dms(slack, "U0ALICE")
    assert any("succeeded" in n for n in notices)
    assert any("outcome line could not be posted" in n and "C0OPSLOG" in n for n in notices)
    assert len(slack.thread(APPROVALS, card(slack, request_id).ts)) == 1
    slack.allow_channel(OUTCOMES)
    await sweep(bot)
    assert len(slack.messages(OUTCOMES)) == 1
    assert len(slack.thread(APPROVALS, card(slack, request_id).ts)) == 1
    assert len([n for n in dms(slack, "U0ALICE") if "succeeded" in n]) == 1
