"""A post slower than the lease is still posted once: its poster keeps the lease while Slack
takes its time, so another replica's sweep never takes the post over and posts it again.
Two bots on one database (replicas, in one process), a lease of 0.6 s, Slack answering each
`chat.postMessage` after 2 s, and the other replica sweeping all along."""

from __future__ import annotations

import asyncio
import contextlib
import re

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot, start_bot
from tests.support.slack_user import (
    APPROVALS,
    OUTCOMES,
    UNLINK,
    ask,
    channel_texts,
    deny_with_reason,
    dms,
    request_id_in,
    thread,
)

SLOW = 2.0  # seconds Slack takes to answer a post
LEASE = 0.6  # seconds a post's lease lasts unless its poster renews it


def mentions(texts: list[str], request_id: int) -> int:
    return sum(1 for text in texts if re.search(rf"#{request_id}\b", text))


async def sweeping(replica: RunningBot) -> None:
    """The other replica's sweeper, as fast as it goes."""
    while True:
        await replica.sweep_once()
        await asyncio.sleep(0.05)


async def test_an_outcome_posted_slower_than_the_lease_is_posted_once(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> None:
    settings = bot_settings.model_copy(update={"lease_seconds": LEASE})
    other = await start_bot(settings, orgs, slack)
    replica = await start_bot(settings, orgs, slack)  # Slack sends to this one
    try:
        request_id = request_id_in(await ask(slack, replica, "U0ALICE", UNLINK))
        await other.settle()
        slack.slow_down("chat.postMessage", SLOW)
        swept = asyncio.create_task(sweeping(other))
        try:
            await deny_with_reason(slack, replica, "U0BOB", request_id, "not this number")
            await replica.settle(timeout=30)
        finally:
            swept.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await swept
        slack.slow_down("chat.postMessage", 0)
        for bot in (other, replica):
            await bot.sweep_once()
            await bot.settle()

        assert mentions(dms(slack, "U0ALICE"), request_id) == 1
        assert mentions(channel_texts(slack, OUTCOMES), request_id) == 1
        assert mentions(channel_texts(slack, APPROVALS), request_id) == 1  # the card
        assert len([t for t in thread(slack, request_id) if "denied" in t]) == 1
        stored = await replica.services.store.get(request_id)
        assert stored is not None and stored.notified_at is not None
    finally:
        await replica.stop()
        await other.stop()
