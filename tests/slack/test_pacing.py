"""Slack takes about one chat.postMessage per second per channel and answers 429 with
Retry-After beyond it: cards take turns per channel, a channel Slack refused is paced while
cards queue for it, and each card lands once, with one 429 for a burst, not one per card.

The bot tests run the real bot against the stand-in over loopback, with the stand-in's post
limit on; the pacer's own rules are checked on a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import RateLimited, SlackStandin
from bot.slack.pacing import ChannelPacer, PacedRateLimitRetryHandler, retry_after
from tests.support.bot import RunningBot, start_bot
from tests.support.slack import SLACK_BOT_TOKEN
from tests.support.slack_user import APPROVALS, OPS, card, request_id_in

LIMIT = 2.0  # posts a second the stand-in takes per channel
INTERVAL = 0.6  # the bot's pace once refused: a little slower than the limit
BURST = 8


def unlink(i: int) -> str:
    return f"unlink +9180{i:08d} sfv_app_abc123xyz456 fraud on this DID, INC-4411"


@pytest.fixture
async def paced_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    settings = bot_settings.model_copy(update={"slack_post_interval_seconds": INTERVAL})
    running = await start_bot(settings, orgs, slack)
    yield running
    await running.stop()


def card_posts(slack: SlackStandin) -> list[int]:
    """Statuses of every chat.postMessage to the approval channel, in order."""
    return [
        c.status
        for c in slack.calls
        if c.method == "chat.postMessage" and c.params.get("channel") == APPROVALS
    ]


def cards_of(slack: SlackStandin, request_id: int) -> int:
    return sum(f"request #{request_id}" in m.text for m in slack.messages(APPROVALS))


# -- the bot against a Slack that limits posts --------------------------------------------


async def test_a_burst_is_acked_at_once_and_its_cards_land_paced_each_once(
    slack: SlackStandin, paced_bot: RunningBot
) -> None:
    slack.limit_posts(per_second=LIMIT)
    results = await asyncio.gather(
        *(slack.command("U0ALICE", unlink(i), channel=OPS) for i in range(BURST))
    )
    landed_when_all_acked = len(slack.messages(APPROVALS))
    request_ids = []
    for result in results:
        assert result.status == 200, result.body
        assert result.ephemeral is not None
        assert "waiting for 1 approval" in result.ephemeral.text, result.ephemeral.text
        request_ids.append(request_id_in(result.ephemeral.text))
    assert len(set(request_ids)) == BURST
    # every ack was answered while cards were still queued behind Slack's pace: no ack waits
    # for a card (the last card lands a Retry-After and BURST-2 intervals after the first)
    assert landed_when_all_acked < BURST

    await slack.wait_for(lambda: len(slack.messages(APPROVALS)) >= BURST, timeout=60)
    await paced_bot.settle(timeout=30)
    assert len(slack.messages(APPROVALS)) == BURST
    for request_id in request_ids:
        assert cards_of(slack, request_id) == 1, request_id
        stored = await paced_bot.services.store.get(request_id)
        assert stored is not None
        assert stored.card_ts == card(slack, request_id).ts
        assert stored.slack_problem is None
    # one 429 (the first post after the first card), not one per card: a second one only if
    # the machine stalled a post past its turn; never a storm
    assert 1 <= slack.rate_limited(APPROVALS) <= 2
    assert card_posts(slack).count(200) == BURST
    pacer = paced_bot.services.notifier.pacer
    await slack.wait_for(lambda: pacer.channels() == [], timeout=10)


async def test_a_burst_of_notices_to_one_requester_is_paced_like_the_cards(
    slack: SlackStandin, paced_bot: RunningBot
) -> None:
    """None of these numbers is linked, so each preview owes Alice a "nothing to do"
    notice ("already gone"): her DMs are one channel, taken in turns as the cards are
    (before: one 429 each, and most of the notices retried later)."""
    slack.limit_posts(per_second=LIMIT)
    unlinked = [f"unlink +9181{i:08d} sfv_app_abc123xyz456 fraud, INC-4411" for i in range(BURST)]
    results = await asyncio.gather(*(slack.command("U0ALICE", u, channel=OPS) for u in unlinked))
    assert all(result.status == 200 for result in results)

    def notices() -> list[str]:
        return [m.text for m in slack.messages("U0ALICE") if "already gone" in m.text]

    await slack.wait_for(lambda: len(notices()) >= BURST, timeout=60)
    await paced_bot.settle(timeout=30)
    assert len(notices()) == BURST  # each once
    assert 1 <= slack.rate_limited("U0ALICE") <= 2


async def test_a_429_on_a_card_holds_the_channel_and_the_card_posts_once(
    slack: SlackStandin, paced_bot: RunningBot
) -> None:
    slack.fail("chat.postMessage", RateLimited(retry_after=1))
    first, second = await asyncio.gather(
        slack.command("U0ALICE", unlink(1), channel=OPS),
        slack.command("U0ALICE", unlink(2), channel=OPS),
    )
    await slack.wait_for(lambda: len(slack.messages(APPROVALS)) >= 2, timeout=30)
    await paced_bot.settle(timeout=30)
    # the refused card was retried after Retry-After; the other waited its turn meanwhile
    # instead of meeting the same refusal
    assert card_posts(slack) == [429, 200, 200]
    for result in (first, second):
        assert result.ephemeral is not None
        request_id = request_id_in(result.ephemeral.text)
        assert cards_of(slack, request_id) == 1
        stored = await paced_bot.services.store.get(request_id)
        assert stored is not None and stored.slack_problem is None
    assert slack.rate_limited(APPROVALS) == 1


async def test_a_channel_never_refused_is_not_paced(
    slack: SlackStandin, bot_settings: Settings, orgs: OrgDirectory
) -> None:
    """With a pace of a minute, a burst that draws no 429 must not wait for it."""
    settings = bot_settings.model_copy(update={"slack_post_interval_seconds": 60.0})
    running = await start_bot(settings, orgs, slack)
    try:
        await asyncio.gather(*(slack.command("U0ALICE", unlink(i), channel=OPS) for i in range(4)))
        await slack.wait_for(lambda: len(slack.messages(APPROVALS)) >= 4, timeout=30)
        await running.settle(timeout=30)
        assert card_posts(slack) == [200] * 4
        assert running.services.notifier.pacer.channels() == []
    finally:
        await running.stop()


# -- the retry handler, over a real socket ------------------------------------------------


def paced_client(slack: SlackStandin, pacer: ChannelPacer) -> AsyncWebClient:
    return AsyncWebClient(
        token=SLACK_BOT_TOKEN,
        base_url=slack.api_url,
        retry_handlers=[PacedRateLimitRetryHandler(pacer, max_retry_count=3)],
    )


async def test_the_handler_tells_the_pacer_the_channel_of_a_429_in_a_turn(
    slack: SlackStandin,
) -> None:
    pacer = ChannelPacer(interval=60)
    client = paced_client(slack, pacer)
    slack.fail("chat.postMessage", RateLimited(retry_after=0))
    async with pacer.turn(APPROVALS):  # slack-sdk sends the arguments as JSON, out of sight
        posted = await client.chat_postMessage(channel=APPROVALS, text="card")
    assert posted["ok"]
    assert card_posts(slack) == [429, 200]
    assert pacer.hot(APPROVALS)
    assert len(slack.messages(APPROVALS)) == 1


async def test_the_handler_reads_the_channel_of_a_form_post(slack: SlackStandin) -> None:
    pacer = ChannelPacer(interval=60)
    client = paced_client(slack, pacer)
    slack.fail("chat.postMessage", RateLimited(retry_after=0))
    posted = await client.api_call("chat.postMessage", data={"channel": OPS, "text": "form"})
    assert posted["ok"]
    assert pacer.hot(OPS)
    assert [m.text for m in slack.messages(OPS)] == ["form"]


async def test_a_429_with_no_channel_known_or_on_another_method_is_only_ridden_out(
    slack: SlackStandin,
) -> None:
    pacer = ChannelPacer(interval=60)
    client = paced_client(slack, pacer)
    slack.fail("chat.postMessage", RateLimited(retry_after=0))
    assert (await client.chat_postMessage(channel=OPS, text="json, no turn"))["ok"]
    posted = await client.chat_postMessage(channel=OPS, text="to update")
    slack.fail("chat.update", RateLimited(retry_after=0))
    assert (await client.chat_update(channel=OPS, ts=posted["ts"], text="updated"))["ok"]
    assert pacer.channels() == []
    assert [c.status for c in slack.calls] == [429, 200, 200, 429, 200]


# -- the pacer's rules, on a fake clock ---------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def fake_pacer(interval: float = 1.0) -> tuple[ChannelPacer, FakeClock]:
    clock = FakeClock()
    return ChannelPacer(interval=interval, clock=clock, sleep=clock.sleep), clock


async def test_a_cold_channel_posts_without_waiting_and_keeps_no_state() -> None:
    pacer, clock = fake_pacer()
    for _ in range(5):
        async with pacer.turn("C1") as waited:
            assert not waited
    assert clock.slept == []
    assert pacer.channels() == []


async def test_turns_of_one_channel_take_turns_and_other_channels_do_not_wait() -> None:
    pacer, _ = fake_pacer()
    order: list[str] = []
    release = asyncio.Event()

    async def post(channel: str, name: str) -> bool:
        async with pacer.turn(channel) as waited:
            order.append(f"{name} in")
            if name == "a":
                await release.wait()
            order.append(f"{name} out")
            return waited

    a = asyncio.create_task(post("C1", "a"))
    b = asyncio.create_task(post("C1", "b"))
    c = asyncio.create_task(post("C2", "c"))
    await asyncio.sleep(0.01)
    assert order == ["a in", "c in", "c out"]
    release.set()
    assert list(await asyncio.gather(a, b, c)) == [False, True, False]
    assert order == ["a in", "c in", "c out", "a out", "b in", "b out"]


async def test_a_task_holding_the_turn_posts_again_under_it_and_others_still_wait() -> None:
    """A card's post announces what it owes under the card from within its turn: the same
    task takes the turn again at once (an asyncio.Lock would wait for itself forever)."""
    pacer, _ = fake_pacer()
    order: list[str] = []

    async def card() -> None:
        async with pacer.turn("C1"):
            order.append("card")
            async with pacer.turn("C1") as waited:
                assert not waited
                order.append("under the card")
                await asyncio.sleep(0.01)

    async def other() -> None:
        async with pacer.turn("C1"):
            order.append("other")

    first = asyncio.create_task(card())
    await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(first, other()), 1)
    assert order == ["card", "under the card", "other"]
    assert pacer.channels() == []


async def test_after_a_429_the_channel_waits_retry_after_then_one_post_per_interval() -> None:
    pacer, clock = fake_pacer(interval=1.0)
    starts: list[float] = []

    async def post(refused: bool = False) -> None:
        async with pacer.turn("C1"):
            starts.append(clock.now)
            if refused:  # the handler: told, sleeps Retry-After, posts again, answered
                pacer.rate_limited("C1", 3)
                await clock.sleep(3)
                pacer.answered("C1")

    await asyncio.gather(post(), post(refused=True), post(), post(), post())
    assert [s - 1000.0 for s in starts] == [0.0, 0.0, 4.0, 5.0, 6.0]
    assert pacer.hot("C1")
    clock.now += 1.0  # a whole interval with nothing queued: it cools down, state dropped
    assert not pacer.hot("C1")
    assert pacer.channels() == []
    async with pacer.turn("C1") as waited:
        assert not waited


async def test_a_post_within_the_interval_after_a_hot_queue_drained_is_still_paced() -> None:
    pacer, clock = fake_pacer(interval=1.0)
    pacer.rate_limited("C1", 2)  # the refused post goes again at 1002, the next after it
    async with pacer.turn("C1") as waited:
        assert waited and clock.now == 1003.0
    clock.now += 0.25
    async with pacer.turn("C1") as waited:
        assert waited and clock.now == 1004.0


async def test_a_429_outside_any_turn_holds_the_next_turn_until_retry_after() -> None:
    pacer, clock = fake_pacer()
    pacer.rate_limited("C1", 2)
    assert pacer.channels() == ["C1"]
    clock.now += 5
    assert pacer.channels() == []  # nothing owed any more, nothing kept
    pacer.rate_limited("C1", 2)  # its post goes again in 2 s; the next a pace after that
    async with pacer.turn("C1") as waited:
        assert waited
    assert clock.slept == [3.0]


async def test_state_does_not_grow_with_the_channels_posted_to() -> None:
    pacer, clock = fake_pacer()
    for i in range(1000):
        async with pacer.turn(f"C{i}"):
            pass
        if i % 100 == 0:
            pacer.rate_limited(f"C{i}", 1)
    clock.now += 10
    assert pacer.channels() == []


async def test_a_cancelled_wait_gives_up_its_place() -> None:
    pacer, _ = fake_pacer()
    release = asyncio.Event()

    async def hold() -> None:
        async with pacer.turn("C1"):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiter.cancel()
    release.set()
    await holder
    await asyncio.gather(waiter, return_exceptions=True)
    assert pacer.channels() == []


async def test_an_episode_ends_on_its_own_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """No later post needed: once nothing is owed, the channel is forgotten and the operator
    told (real clock, a short pace)."""
    caplog.set_level(logging.INFO, logger="bot.slack.pacing")
    pacer = ChannelPacer(interval=0.05)
    async with pacer.turn("C1"):
        pacer.rate_limited("C1", 0)
    assert "Slack is rate-limiting posts to C1" in caplog.text
    for _ in range(100):
        if "posts to C1 caught up" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "posts to C1 caught up" in caplog.text
    assert not pacer.hot("C1")


def test_a_pace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ChannelPacer(interval=0)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({}, 1.0),
        ({"Retry-After": "soon"}, 1.0),
        ({"Retry-After": "-4"}, 1.0),
        ({"Retry-After": "nan"}, 1.0),
    ],
)
def test_retry_after_is_read_from_the_header_or_one_second(
    headers: dict[str, str], seconds: float
) -> None:
    assert retry_after(HttpResponse(status_code=429, headers=dict(headers))) == seconds
