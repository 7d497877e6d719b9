"""The Events API at the front doors: Slack's signed URL check, and each event handled once
however many times Slack delivers it (its retries carry the same `event_id`), on one replica
or two, over HTTP and Socket Mode, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot, SocketBot, start_bot
from tests.support.slack import SLACK_SIGNING_SECRET


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The usual settings, on each database in turn."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


def home_event(slack: SlackStandin, user: str) -> dict[str, Any]:
    """`app_home_opened` as Slack sends it when `user` opens the Home tab."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": slack.dm_channel(user),
        "tab": "home",
    }


def publishes(slack: SlackStandin, user: str) -> int:
    return sum(
        1 for c in slack.calls if c.method == "views.publish" and c.params.get("user_id") == user
    )


# -- url_verification -----------------------------------------------------------------------


async def test_a_signed_url_check_gets_its_challenge_back(
    slack: SlackStandin, bot: RunningBot
) -> None:
    ack = await slack.verify_url("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert ack.status == 200
    assert ack.json == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_an_unsigned_url_check_is_refused_like_any_unsigned_body(
    slack: SlackStandin, bot: RunningBot
) -> None:
    ack = await slack.verify_url("anything", signed=False)
    assert ack.status == 401
    assert "anything" not in json.dumps(ack.body)


async def test_a_url_check_signed_with_another_secret_is_refused(
    slack: SlackStandin, bot: RunningBot
) -> None:
    slack.configure(bot.url, "some-other-secret-not-real")
    try:
        ack = await slack.verify_url("anything")
    finally:
        slack.configure(bot.url, SLACK_SIGNING_SECRET)
    assert ack.status == 401


async def test_a_challenge_that_is_not_plain_text_is_not_echoed(
    slack: SlackStandin, bot: RunningBot
) -> None:
    ack = await slack.verify_url("<script>\n" + "x" * 300)
    assert ack.status == 200 and ack.body is None


# -- each event once ------------------------------------------------------------------------


async def test_a_retried_event_is_handled_once(slack: SlackStandin, bot: RunningBot) -> None:
    first = await slack.open_home("U0BOB")
    assert first.ok
    await bot.settle()
    assert publishes(slack, "U0BOB") == 1

    for retry in (1, 2, 3):
        again = await slack.redeliver(first.event, retry=retry)
        assert again.ok
    await bot.settle()
    assert publishes(slack, "U0BOB") == 1

    fresh = await slack.open_home("U0BOB")  # a new opening is a new event: handled
    assert fresh.ok
    await bot.settle()
    assert publishes(slack, "U0BOB") == 2


async def test_an_event_id_in_any_form_slack_may_use_is_handled_once(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """Slack promises only a string (its own samples say `Ev111`): the id is not judged by
    its shape, only by whether the store can hold it."""
    for n, event_id in enumerate(("Ev111", "not-an-event-id", "x" * 64), start=1):
        first = await slack.send_event(home_event(slack, "U0BOB"), event_id=event_id)
        again = await slack.redeliver(first.event, retry=1)
        assert first.ok and again.ok
        await bot.settle()
        assert publishes(slack, "U0BOB") == n


async def test_an_event_without_a_usable_event_id_is_handled_each_time(
    slack: SlackStandin, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack always sends an id; a body without one the store can hold is still handled (a
    Home published twice harms nothing; a Home never published does), its id never echoed."""
    odd = ("", None, 12345, "Ev" + "x" * 100, "Ev 111\n<script>")
    for n, event_id in enumerate(odd, start=1):
        body: dict[str, Any] = {"type": "event_callback", "event": home_event(slack, "U0BOB")}
        if event_id is not None:
            body["event_id"] = event_id
        ack = await slack.redeliver(body, retry=0)
        assert ack.status == 200
        await bot.settle()  # one at a time: a Home asked for while it is published is coalesced
        assert publishes(slack, "U0BOB") == n
    assert "<script>" not in caplog.text and "x" * 100 not in caplog.text


async def test_a_retry_reaching_another_replica_is_handled_once(
    slack: SlackStandin, bot: RunningBot, bot_settings: Settings, orgs: OrgDirectory
) -> None:
    other = await start_bot(bot_settings, orgs, slack)  # same database, its own server
    try:
        slack.configure(bot.url, SLACK_SIGNING_SECRET)
        first = await slack.open_home("U0CAROL")
        assert first.ok
        slack.configure(other.url, SLACK_SIGNING_SECRET)
        again = await slack.redeliver(first.event, retry=1)
        assert again.ok
        await asyncio.gather(bot.settle(), other.settle())
        assert publishes(slack, "U0CAROL") == 1
    finally:
        slack.configure(bot.url, SLACK_SIGNING_SECRET)
        await other.stop()


async def test_events_are_remembered_for_an_hour_then_pruned(bot: RunningBot) -> None:
    store = bot.services.store
    now = time.time()
    assert await store.first_delivery("EvOLD0001", now - 7200)
    assert await store.first_delivery("EvNEW0001", now)  # prunes the two-hour-old one
    assert not await store.first_delivery("EvNEW0001", now + 1)
    assert await store.first_delivery("EvOLD0001", now + 2)  # forgotten, so new again


# -- over Socket Mode -------------------------------------------------------------------------


async def test_a_retried_event_over_the_socket_is_handled_once(
    slack: SlackStandin, socket_bot: SocketBot
) -> None:
    first = await slack.open_home("U0BOB")
    assert first.ok and first.transport == "socket"
    await socket_bot.settle()
    assert publishes(slack, "U0BOB") == 1
    again = await slack.redeliver(first.event, retry=1)
    assert again.ok and again.transport == "socket"
    await socket_bot.settle()
    assert publishes(slack, "U0BOB") == 1
