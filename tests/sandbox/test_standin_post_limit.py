"""The stand-in's per-channel post limit: off unless asked, and then refused as Slack refuses
a channel posted to too fast (429, Retry-After, `ratelimited`, nothing posted)."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_standin import RateLimited, SlackStandin
from tests.support.slack import SLACK_BOT_TOKEN

CHANNEL = "C0APPROVALS"
OTHER = "C0OPS"


def plain_client(slack: SlackStandin) -> AsyncWebClient:
    """slack-sdk's client with no 429 handler, so each refusal reaches the test."""
    return AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=slack.api_url)


async def test_posts_are_not_limited_unless_asked(slack: SlackStandin) -> None:
    client = plain_client(slack)
    for i in range(5):
        await client.chat_postMessage(channel=CHANNEL, text=f"post {i}")
    assert len(slack.messages(CHANNEL)) == 5
    assert slack.rate_limited(CHANNEL) == 0


async def test_a_post_too_soon_is_refused_429_with_retry_after_and_nothing_posted(
    slack: SlackStandin,
) -> None:
    slack.limit_posts(per_second=4)
    client = plain_client(slack)
    await client.chat_postMessage(channel=CHANNEL, text="first")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL, text="too soon")
    response = refused.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "1"  # whole seconds, at least one
    assert [m.text for m in slack.messages(CHANNEL)] == ["first"]
    assert slack.rate_limited(CHANNEL) == 1
    assert [(c.status, c.error) for c in slack.calls] == [(200, None), (429, "ratelimited")]

    await client.chat_postMessage(channel=OTHER, text="another channel is not held back")

    await asyncio.sleep(1.0)  # what Retry-After said
    await client.chat_postMessage(channel=CHANNEL, text="after the wait")
    assert [m.text for m in slack.messages(CHANNEL)] == ["first", "after the wait"]
    assert slack.rate_limited(CHANNEL) == 1
    assert slack.rate_limited(OTHER) == 0
    assert slack.rate_limited() == 1


async def test_the_wait_counts_from_the_last_post_taken_not_the_refused_ones(
    slack: SlackStandin,
) -> None:
    slack.limit_posts(per_second=0.5)  # one post every 2 s
    client = plain_client(slack)
    await client.chat_postMessage(channel=CHANNEL, text="first")
    for _ in range(3):
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel=CHANNEL, text="again")
        assert refused.value.response.headers["Retry-After"] == "2"
    assert slack.rate_limited(CHANNEL) == 3
    assert len(slack.messages(CHANNEL)) == 1


async def test_a_refused_post_does_not_count_as_taken(slack: SlackStandin) -> None:
    slack.limit_posts(per_second=0.5)
    slack.refuse_channel(CHANNEL, "not_in_channel")
    client = plain_client(slack)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL, text="refused")
    assert refused.value.response["error"] == "not_in_channel"
    slack.allow_channel(CHANNEL)
    await client.chat_postMessage(channel=CHANNEL, text="taken at once")
    assert slack.rate_limited(CHANNEL) == 0


async def test_unlimit_and_reset_lift_the_limit_and_reset_forgets_the_count(
    slack: SlackStandin,
) -> None:
    client = plain_client(slack)
    slack.limit_posts(per_second=0.5)
    await client.chat_postMessage(channel=CHANNEL, text="first")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=CHANNEL, text="too soon")
    slack.unlimit_posts()
    await client.chat_postMessage(channel=CHANNEL, text="unlimited")
    assert slack.rate_limited(CHANNEL) == 1

    slack.limit_posts(per_second=0.5)
    slack.reset()
    assert slack.rate_limited() == 0
    await client.chat_postMessage(channel=CHANNEL, text="one")
    await client.chat_postMessage(channel=CHANNEL, text="two")
    assert len(slack.messages(CHANNEL)) == 2


async def test_a_queued_429_fault_is_counted_for_its_channel(slack: SlackStandin) -> None:
    slack.fail("chat.postMessage", RateLimited(retry_after=3))
    with pytest.raises(SlackApiError) as refused:
        await plain_client(slack).chat_postMessage(channel=CHANNEL, text="x")
    assert refused.value.response.headers["Retry-After"] == "3"
    assert slack.rate_limited(CHANNEL) == 1
    assert slack.messages(CHANNEL) == []


async def test_a_dm_is_one_channel_whether_named_by_user_or_by_its_id(
    slack: SlackStandin,
) -> None:
    slack.limit_posts(per_second=0.5)
    client = plain_client(slack)
    posted = await client.chat_postMessage(channel="U0ALICE", text="by user id")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=posted["channel"], text="by DM id, too soon")
    assert refused.value.response.status_code == 429
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="U0ALICE", text="by user id, too soon")
    assert slack.rate_limited("U0ALICE") == slack.rate_limited(posted["channel"]) == 2
    assert [m.text for m in slack.dms("U0ALICE")] == ["by user id"]
