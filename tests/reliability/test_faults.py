"""Faults on both sides: every request still ends in a final state its requester can see.

SFVoPI (the emulator) times out, drops connections, answers 500, answers slowly or answers
garbage; Slack (the stand-in) answers 429 with Retry-After, 500, or nothing for a while, and a
command's response_url stops answering. The bot runs in-process behind its real HTTP server.
Retries are counted where they land (emulator calls, stand-in calls), against the bounds the
code states: `SFVOPI_API_TRIES` attempts per target; for Slack Web API calls the retry handlers
of `bot.slack.services.slack_client` (429: 3 retries, connection errors: 3, 500/503: 2).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import RateLimited, SlackServerError, Timeout
from tests.support.bot import RunningBot, start_bot
from tests.support.processes import wait_until
from tests.support.slack_user import (
    ACK_BOUND,
    APPROVALS,
    OPS,
    UNLINK,
    api_paths_are_strict,
    ask,
    card,
    card_text,
    click,
    confirm,
    deny_with_reason,
    quick_retries,
    told,
)

SLACK_5XX_CALLS = 1 + 2  # AsyncServerErrorRetryHandler(max_retry_count=2) in slack_client
SLACK_429_CALLS = 1 + 3  # AsyncRateLimitErrorRetryHandler(max_retry_count=3)
FAR_FUTURE = 4_000_000_000.0


def rid(reply: str) -> int:
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    return int(match.group(1))


async def status_as_seen(slack: SlackStandin, user: str, request_id: int) -> tuple[str, str]:
    """`/sfvopi status N`: the ephemeral's text and its blocks, as the user sees them."""
    result = await slack.command(user, f"status {request_id}", channel=OPS)
    assert result.status == 200
    assert result.ephemeral is not None
    return result.ephemeral.text, str(result.ephemeral.blocks)


def slack_calls(slack: SlackStandin, method: str, channel: str | None = None) -> int:
    return sum(
        1
        for c in slack.calls
        if c.method == method and (channel is None or c.params.get("channel") == channel)
    )


def notices(slack: SlackStandin, user: str) -> list[str]:
    """What the bot told `user` after the ack: ephemerals via response_url, or DMs."""
    return told(slack, user) + [m.text for m in slack.dms(user)]


@pytest.fixture
def fast_settings(bot_settings: Settings) -> Settings:
    """A short SFVoPI timeout, so a 10 s answer becomes a timeout in 0.3 s."""
    return bot_settings.model_copy(update={"api_timeout_seconds": 0.3})


@pytest.fixture
async def fast_bot(
    fast_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    running = quick_retries(await start_bot(fast_settings, orgs, slack))
    yield running
    await running.stop()


@pytest.fixture
def short_emulator_timeouts(emulator: Emulator) -> Iterator[Emulator]:
    """ApiFault.TIMEOUT holds a call 0.6 s instead of 30, so its record lands within the test."""
    before = emulator.timeout_sleep
    emulator.timeout_sleep = 0.6
    yield emulator
    emulator.timeout_sleep = before


# -- SFVoPI misbehaves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "latency", "calls", "final", "says"),
    [
        pytest.param(
            (ApiFault.TIMEOUT,) * 3,
            0.0,
            3,
            "unknown",
            "no answer from SFVoPI after 3 tries (timeout)",
            id="timeouts",
        ),
        pytest.param(
            (ApiFault.DROP,) * 3,
            0.0,
            3,
            "unknown",
            "no answer from SFVoPI after 3 tries (connection dropped)",
            id="dropped-connections",
        ),
        pytest.param(
            (ApiFault.SERVER_ERROR,) * 5,
            0.0,
            3,
            "failed",
            "server error after 3 tries",
            id="500s",
        ),
        pytest.param(
            (),
            0.6,
            3,
            "unknown",
            "no answer from SFVoPI after 3 tries (timeout)",
            id="slow-answers",
        ),
        pytest.param(
            (ApiFault.GARBAGE,),
            0.0,
            1,
            "unknown",
            "unexpected response from SFVoPI",
            id="malformed",
        ),
        pytest.param((ApiFault.TIMEOUT,), 0.0, 2, "succeeded", "Done", id="timeout-then-ok"),
        pytest.param((ApiFault.SERVER_ERROR,) * 2, 0.0, 3, "succeeded", "Done", id="500s-then-ok"),
        pytest.param(
            (ApiFault.APPLY_THEN_DROP,),
            0.0,
            2,
            "succeeded",
            "already absent",
            id="applied-then-dropped",
        ),
    ],
)
async def test_sfvopi_faults_end_in_a_final_state_the_user_can_see(
    slack: SlackStandin,
    fast_bot: RunningBot,
    short_emulator_timeouts: Emulator,
    faults: tuple[ApiFault, ...],
    latency: float,
    calls: int,
    final: str,
    says: str,
) -> None:
    emulator = short_emulator_timeouts
    request_id = rid(await ask(slack, fast_bot, "U0ALICE", UNLINK))
    emulator.script(*faults, method="DELETE")
    emulator.latency = latency
    await click(slack, fast_bot, "U0BOB", request_id, "approve")
    # the emulator records a call when it answers; slow and held calls answer after the bot
    # gave up on them, so wait for every attempt to land before counting
    await wait_until(lambda: len(emulator.writes) >= calls, timeout=10, what=f"{calls} calls")
    assert len(emulator.writes) == calls <= fast_bot.services.settings.api_tries
    api_paths_are_strict(emulator)

    text, shown = await status_as_seen(slack, "U0ALICE", request_id)
    shown_as = {"succeeded": "done", "failed": "failed", "unknown": "outcome unknown"}[final]
    assert f"request #{request_id}: {shown_as}" in text
    assert says in shown
    done = card(slack, request_id)
    assert done.action_ids() in ([], ["sfvopi_undo"])
    assert says in card_text(done)
    assert final in notices(slack, "U0ALICE")[-1]
    stored = await fast_bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status(final)
    assert stored.targets[0].attempts == calls


async def test_the_number_of_sfvopi_tries_follows_the_setting(
    slack: SlackStandin,
    bot_settings: Settings,
    orgs: OrgDirectory,
    emulator: Emulator,
) -> None:
    settings = bot_settings.model_copy(update={"api_tries": 2, "api_timeout_seconds": 0.3})
    running = await start_bot(settings, orgs, slack)
    try:
        request_id = rid(
            await ask(
                slack, running, "U0ALICE", "delete sfv_app_abc123xyz456 sfv_app_def789ghi012 r"
            )
        )
        emulator.script(
            *(ApiFault.SERVER_ERROR,) * 4, ApiFault.DROP, ApiFault.DROP, method="DELETE"
        )
        await click(slack, running, "U0BOB", request_id, "approve")
        await click(slack, running, "U0CAROL", request_id, "approve")
    finally:
        await running.stop()
    assert len(emulator.writes) == 4  # two targets, two tries each
    api_paths_are_strict(emulator)
    final = card_text(card(slack, request_id))
    assert final.count("server error after 2 tries") == 2
    assert "Failed" in final


async def test_a_slow_sfvopi_does_not_slow_any_ack(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    first = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    second = rid(
        await ask(slack, bot, "U0ALICE", "unlink +918000000003 sfv_app_def789ghi012 second one")
    )
    with emulator.hold("%2B") as held:  # the unlink, not the preview's reads before it
        clicked = await slack.click("U0BOB", APPROVALS, card(slack, first).ts, "sfvopi_approve")
        confirmed = await confirm(slack, "U0BOB")
        await held.wait_arrived()
        acks = [clicked.elapsed, confirmed.elapsed]
        for text in ("help", "whoami", f"status {first}", "pending", "history", UNLINK + " again"):
            result = await slack.command("U0ALICE", text, channel=OPS)
            assert result.status == 200 and result.ephemeral is not None, text
            acks.append(result.elapsed)
        status = await slack.command("U0VIC", f"status {first}", channel=OPS)
        assert status.ephemeral is not None and "running now" in status.ephemeral.text
        other = await slack.click("U0CAROL", APPROVALS, card(slack, second).ts, "sfvopi_deny")
        acks.append(other.elapsed)
        await slack.wait_for(lambda: slack.modal_of("U0CAROL"), timeout=10)  # Deny asks why
        why = await slack.submit_view("U0CAROL", "not now")
        assert why.closed, why
        acks.append(why.elapsed)
        acks.append(status.elapsed)
        assert max(acks) < ACK_BOUND, acks
        assert held.waiting == 1
    await bot.settle()
    assert ": done" in (await status_as_seen(slack, "U0ALICE", first))[0]
    assert "denied" in (await status_as_seen(slack, "U0ALICE", second))[0]


# -- Slack misbehaves -------------------------------------------------------------------------


async def test_429s_with_retry_after_are_ridden_out(slack: SlackStandin, bot: RunningBot) -> None:
    slack.fail("chat.postMessage", RateLimited(retry_after=0), RateLimited(retry_after=0))
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    assert card(slack, request_id).action_ids() != []
    assert slack_calls(slack, "chat.postMessage", APPROVALS) == 3


async def test_429s_beyond_the_retry_bound_leave_the_card_to_the_sweeper(
    slack: SlackStandin, bot: RunningBot
) -> None:
    slack.fail("chat.postMessage", *[RateLimited(retry_after=0)] * SLACK_429_CALLS)
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    assert not slack.messages(APPROVALS)
    assert slack_calls(slack, "chat.postMessage", APPROVALS) == SLACK_429_CALLS
    bot.services.notifier.clock = lambda: FAR_FUTURE
    await bot.sweep_once()
    await bot.settle()
    assert card(slack, request_id).action_ids() != []
    assert len(slack.messages(APPROVALS)) == 1


async def test_500s_on_the_card_post_are_retried_within_bounds(
    slack: SlackStandin, bot: RunningBot
) -> None:
    quick_retries(bot)
    slack.fail("chat.postMessage", SlackServerError(), SlackServerError(503))
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    assert card(slack, request_id).action_ids() != []
    assert slack_calls(slack, "chat.postMessage", APPROVALS) == SLACK_5XX_CALLS


async def test_a_card_post_that_fails_for_good_is_posted_by_the_sweeper(
    slack: SlackStandin, bot: RunningBot
) -> None:
    quick_retries(bot)
    slack.fail("chat.postMessage", *[SlackServerError()] * SLACK_5XX_CALLS)
    reply = await ask(slack, bot, "U0ALICE", UNLINK)
    request_id = rid(reply)
    assert "waiting for 1 approval" in reply
    assert not slack.messages(APPROVALS)
    assert slack_calls(slack, "chat.postMessage", APPROVALS) == SLACK_5XX_CALLS
    # a sweep inside the card lease leaves it alone; one past the lease posts it, once
    await bot.sweep_once()
    await bot.settle()
    assert not slack.messages(APPROVALS)
    bot.services.notifier.clock = lambda: FAR_FUTURE
    await bot.sweep_once()
    await bot.sweep_once()
    await bot.settle()
    assert len(slack.messages(APPROVALS)) == 1
    assert card(slack, request_id).action_ids() != []


async def test_a_timed_out_card_post_is_posted_by_the_sweeper(
    slack: SlackStandin, bot: RunningBot
) -> None:
    bot.services.slack.timeout = 0.5  # seconds; the stand-in's Timeout outlasts it
    slack.fail("chat.postMessage", Timeout(seconds=0.8))
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    assert not slack.messages(APPROVALS)
    await wait_until(lambda: slack_calls(slack, "chat.postMessage") >= 1, timeout=5)
    bot.services.notifier.clock = lambda: FAR_FUTURE
    await bot.sweep_once()
    await bot.settle()
    assert len(slack.messages(APPROVALS)) == 1
    assert card(slack, request_id).action_ids() != []


@pytest.mark.parametrize("kind", ["500s", "timeouts"])
async def test_a_card_update_that_fails_for_good_is_finished_by_the_sweeper(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator, kind: str
) -> None:
    quick_retries(bot)
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    await bot.settle()  # the card's own update with the preview, before Slack starts failing
    before = slack_calls(slack, "chat.update")
    if kind == "500s":
        slack.fail("chat.update", *[SlackServerError()] * 30)
        per_sync = SLACK_5XX_CALLS  # once, then the 2 retries its handler allows
    else:
        bot.services.slack.timeout = 0.3  # seconds; the stand-in's Timeout outlasts it
        slack.fail("chat.update", *[Timeout(seconds=0.5)] * 10)
        per_sync = 1  # a timeout may have landed: not retried, the sweeper tries again
    queued = len(slack._faults["chat.update"])
    await click(slack, bot, "U0BOB", request_id, "approve")
    consumed = queued - len(slack._faults["chat.update"])
    # a timed-out call is recorded when the stand-in answers it, after the bot gave up
    await wait_until(lambda: slack_calls(slack, "chat.update") - before == consumed, timeout=5)
    assert consumed % per_sync == 0 and per_sync <= consumed <= 3 * per_sync  # ≤ 3 syncs
    assert card(slack, request_id).action_ids() != []  # Slack still shows the old card …
    text, _ = await status_as_seen(slack, "U0ALICE", request_id)
    assert ": done" in text  # … but the status command tells the truth
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1

    slack._faults.clear()  # Slack is back
    bot.services.slack.timeout = 10
    bot.services.notifier.clock = lambda: FAR_FUTURE
    await bot.sweep_once()
    await bot.sweep_once()
    await bot.settle()
    done = card(slack, request_id)
    assert done.action_ids() in ([], ["sfvopi_undo"]) and "Done" in card_text(done)
    assert len(slack.thread(APPROVALS, done.ts)) == 1
    # the clock moved past the response_url's 30 minutes, so the notice came as a DM
    assert len([t for t in notices(slack, "U0ALICE") if "succeeded" in t]) == 1
    assert len(slack.messages("C0OPSLOG")) == 1
    assert len(emulator.writes) == 1


async def test_a_database_outage_still_gets_every_command_and_click_an_answer(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    ts = card(slack, request_id).ts
    store = bot.services.store
    working = store.engine
    store.engine = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    try:
        for text in (f"status {request_id}", "pending", "history", UNLINK):
            result = await slack.command("U0ALICE", text, channel=OPS)
            assert result.status == 200 and result.ephemeral is not None, text
            assert "went wrong on our side" in result.ephemeral.text
            assert result.elapsed < ACK_BOUND
        clicked = await slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")
        assert clicked.status == 200
        await bot.settle()
        assert "went wrong on our side" in told(slack, "U0BOB")[-1]
    finally:
        await store.engine.dispose()
        store.engine = working
    assert emulator.writes == []
    await click(slack, bot, "U0BOB", request_id, "approve")  # the database is back
    assert ": done" in (await status_as_seen(slack, "U0ALICE", request_id))[0]


async def test_a_slow_slack_does_not_slow_any_ack(slack: SlackStandin, bot: RunningBot) -> None:
    quick_retries(bot)
    slack.fail("chat.postMessage", Timeout(seconds=1.2))
    first = await slack.command("U0ALICE", UNLINK, channel=OPS)
    acks = [first.elapsed]
    assert first.ephemeral is not None and "waiting for 1 approval" in first.ephemeral.text
    for text in ("help", "whoami", f"status {rid(first.ephemeral.text)}", "pending"):
        result = await slack.command("U0BOB", text, channel=OPS)
        assert result.status == 200 and result.ephemeral is not None
        acks.append(result.elapsed)
    assert not slack.messages(APPROVALS)  # the card is still on its way
    assert max(acks) < ACK_BOUND, acks
    await bot.settle()
    # the 503 that ended the slow call was retried: the card arrives after all
    assert card(slack, rid(first.ephemeral.text)).action_ids() != []
    assert slack_calls(slack, "chat.postMessage", APPROVALS) == 2


async def test_the_outcome_notice_is_a_dm_even_while_the_response_url_answers(
    slack: SlackStandin, bot: RunningBot
) -> None:
    """An ephemeral vanishes on reload and never reaches another device; a DM stays."""
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    assert told(slack, "U0ALICE") == []
    (dm,) = slack.dms("U0ALICE")
    assert f"#{request_id}" in dm.text and "succeeded" in dm.text
    assert not any(c.method == "response_url" for c in slack.calls)
    (reply,) = slack.thread(APPROVALS, card(slack, request_id).ts)
    assert reply.text.startswith("<@U0ALICE> ")


async def test_a_denial_is_told_by_dm_and_in_the_cards_thread(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = rid(await ask(slack, bot, "U0ALICE", UNLINK))
    await deny_with_reason(slack, bot, "U0BOB", request_id, "")
    (dm,) = slack.dms("U0ALICE")
    assert f"#{request_id}" in dm.text and "denied" in dm.text
    (reply,) = slack.thread(APPROVALS, card(slack, request_id).ts)
    assert "<@U0ALICE>" in reply.text and "denied by <@U0BOB>" in reply.text


async def test_everything_at_once_still_ends_final_and_told(
    slack: SlackStandin,
    fast_bot: RunningBot,
    short_emulator_timeouts: Emulator,
) -> None:
    """A 429 on the card, a dead response_url, 500s on the update, a timeout then a 500 then a
    drop at SFVoPI: the request still fails cleanly, and every party hears of it once."""
    emulator = short_emulator_timeouts
    slack.fail("chat.postMessage", RateLimited(retry_after=0))
    request_id = rid(await ask(slack, fast_bot, "U0ALICE", UNLINK))
    slack.response_url_gone = True
    slack.fail("chat.update", SlackServerError())
    emulator.script(ApiFault.TIMEOUT, ApiFault.SERVER_ERROR, ApiFault.DROP, method="DELETE")
    await click(slack, fast_bot, "U0BOB", request_id, "approve")
    await wait_until(lambda: len(emulator.writes) == 3, timeout=10)
    fast_bot.services.notifier.clock = lambda: FAR_FUTURE
    await fast_bot.sweep_once()
    await fast_bot.settle()
    api_paths_are_strict(emulator)
    text, shown = await status_as_seen(slack, "U0ALICE", request_id)
    # the last try's connection dropped after the request was sent: SFVoPI never answered
    # whether it applied it, so the outcome is unknown, with what to check
    assert "outcome unknown" in text and "no answer from SFVoPI after 3 tries" in shown
    assert "it may have been applied" in shown
    final = card(slack, request_id)
    assert final.action_ids() in ([], ["sfvopi_undo"]) and "Outcome unknown" in card_text(final)
    (dm,) = slack.dms("U0ALICE")
    assert "outcome unknown" in dm.text
    assert len(slack.messages("C0OPSLOG")) == 1
