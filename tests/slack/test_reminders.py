"""Reminders and escalation as people see them in Slack: a request nobody decides is
re-announced in its card's thread and to each approver, then escalated to whom the policy
names; each step once, never after a decision, and a refused post is sent later, once.

The bot is the real server over the stand-ins, on SQLite and PostgreSQL. Time is the
reminder poster's clock, moved to the minute the policy names (no waiting); the sweeper is
run by hand, as every replica's timer runs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import SlackServerError
from tests.support.bot import BotClock, RunningBot
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack_user import (
    UNLINK,
    ask,
    card,
    card_text,
    channel_texts,
    dms,
    quick_retries,
    request_id_in,
    thread,
)

SECOPS = "C0SECOPS"
REMINDING = ORGS_YAML.replace(
    "      ttl_minutes: 60\n",
    "      ttl_minutes: 60\n"
    "      remind_after_minutes: 10\n"
    "      escalate_after_minutes: 30\n"
    f"      escalate_to: [S0ONCALL, {SECOPS}, U0CTO]\n",
    1,
)
APPROVERS = ("U0BOB", "U0CAROL", "U0DAVE")


@pytest.fixture
def orgs() -> OrgDirectory:
    return parse_orgs(REMINDING, ORG_ENV)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The same bot on each database (SQLite, and PostgreSQL where it is configured)."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def file(slack: SlackStandin, bot: RunningBot) -> tuple[int, float]:
    """Alice asks for an unlink; its number and when it was filed."""
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.card_ts is not None
    return request_id, stored.created_at


async def sweep_at(bot: RunningBot, when: float) -> None:
    """Every replica's sweep, with the reminder poster's and the card's clocks at `when`."""
    assert bot.services.outbox is not None
    bot.services.outbox.clock = lambda: when
    bot.services.notifier.clock = lambda: when
    await bot.sweep_once()
    await bot.settle()


def reminders_in(slack: SlackStandin, request_id: int) -> list[str]:
    return [t for t in thread(slack, request_id) if t.startswith((":bell:", ":rotating_light:"))]


async def event_kinds(bot: RunningBot, request_id: int) -> list[str]:
    return [e.kind for e in await bot.services.store.events(request_id)]


async def test_a_pending_request_is_reminded_then_escalated_once_each(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id, filed = await file(slack, bot)
    assert ":rotating_light: If undecided by" in card_text(card(slack, request_id))
    assert "<!subteam^S0ONCALL>, <#C0SECOPS>, <@U0CTO>" in card_text(card(slack, request_id))

    await sweep_at(bot, filed + 9 * 60)
    assert reminders_in(slack, request_id) == []
    assert all(dms(slack, u) == [] for u in APPROVERS)

    await sweep_at(bot, filed + 10 * 60)
    (reminder,) = reminders_in(slack, request_id)
    assert reminder.startswith(f":bell: Request #{request_id} is still waiting for 1 more")
    assert "Who can approve: <@U0BOB>, <@U0CAROL>, <@U0DAVE>" in reminder
    for approver in APPROVERS:
        (dm,) = dms(slack, approver)
        assert f"Request #{request_id} in *acme*" in dm
        assert "/archives/C0APPROVALS/p" in dm  # the card's permalink
    assert dms(slack, "U0ALICE") == []  # the requester cannot approve: not reminded

    await sweep_at(bot, filed + 20 * 60)  # again, and on every replica: nothing more
    assert len(reminders_in(slack, request_id)) == 1
    assert channel_texts(slack, SECOPS) == []

    await sweep_at(bot, filed + 30 * 60)
    reminded, escalated = reminders_in(slack, request_id)
    assert reminded == reminder
    assert escalated.startswith(":rotating_light: Escalated to <!subteam^S0ONCALL>, <@U0CTO>:")
    assert "Who can approve: <@U0BOB>, <@U0CAROL>, <@U0DAVE>" in escalated
    (posted,) = channel_texts(slack, SECOPS)
    assert posted.startswith(f":rotating_light: Escalated: request #{request_id} in *acme*")
    assert "/archives/C0APPROVALS/p" in posted
    (told_cto,) = dms(slack, "U0CTO")
    assert told_cto == posted
    assert ":rotating_light: Escalated to <!subteam^S0ONCALL>" in card_text(card(slack, request_id))

    await sweep_at(bot, filed + 59 * 60)
    assert len(reminders_in(slack, request_id)) == 2
    assert len(channel_texts(slack, SECOPS)) == 1
    assert all(len(dms(slack, u)) == 1 for u in APPROVERS)
    kinds = await event_kinds(bot, request_id)
    assert kinds.count("reminded") == 1 and kinds.count("escalated") == 1


async def test_an_approver_who_already_approved_is_not_reminded(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(
        await ask(slack, bot, "U0ALICE", "delete sfv_app_abc123xyz456 decommission INC-7")
    )
    await bot.services.workflow.approve(request_id, approver="U0BOB")
    await bot.settle()
    stored = await bot.services.store.get(request_id)
    assert stored is not None
    await sweep_at(bot, stored.created_at + 10 * 60)
    (reminder,) = reminders_in(slack, request_id)
    assert "waiting for 1 more approval" in reminder
    assert "<@U0BOB>" not in reminder
    assert dms(slack, "U0BOB") == []
    assert len(dms(slack, "U0CAROL")) == 1


Decide = Callable[[RunningBot, BotClock, int, float], Awaitable[None]]


async def approve(bot: RunningBot, _clock: BotClock, request_id: int, filed: float) -> None:
    await bot.services.workflow.approve(request_id, approver="U0BOB")


async def deny(bot: RunningBot, _clock: BotClock, request_id: int, filed: float) -> None:
    await bot.services.workflow.deny(request_id, approver="U0BOB", note="not this one")


async def cancel(bot: RunningBot, _clock: BotClock, request_id: int, filed: float) -> None:
    await bot.services.workflow.cancel(request_id, user="U0ALICE", note="filed by mistake")


async def expire(bot: RunningBot, clock: BotClock, request_id: int, filed: float) -> None:
    clock.at = filed + 61 * 60
    await bot.services.workflow.expire_due()


@pytest.mark.parametrize("decide", [approve, deny, cancel, expire])
async def test_nothing_is_sent_once_the_request_left_pending(
    slack: SlackStandin, bot: RunningBot, bot_clock: BotClock, decide: Decide
) -> None:
    request_id, filed = await file(slack, bot)
    await decide(bot, bot_clock, request_id, filed)
    await bot.settle()
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is not Status.PENDING

    await sweep_at(bot, filed + 10 * 60)
    await sweep_at(bot, filed + 30 * 60)
    assert reminders_in(slack, request_id) == []
    assert channel_texts(slack, SECOPS) == [] and dms(slack, "U0CTO") == []
    assert all(not any(":bell:" in d for d in dms(slack, u)) for u in APPROVERS)
    kinds = await event_kinds(bot, request_id)
    assert "reminded" not in kinds and "escalated" not in kinds


async def test_reminders_stop_between_the_reminder_and_the_escalation(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id, filed = await file(slack, bot)
    await sweep_at(bot, filed + 10 * 60)
    assert len(reminders_in(slack, request_id)) == 1
    await bot.services.workflow.deny(request_id, approver="U0CAROL", note="no")
    await bot.settle()
    await sweep_at(bot, filed + 30 * 60)
    assert len(reminders_in(slack, request_id)) == 1
    assert channel_texts(slack, SECOPS) == []
    assert "escalated" not in await event_kinds(bot, request_id)


async def test_a_post_slack_does_not_take_is_sent_later_and_once(
    slack: SlackStandin, bot: RunningBot
) -> None:
    quick_retries(bot)
    request_id, filed = await file(slack, bot)
    lease = bot.services.settings.lease_seconds
    slack.refuse_channel("U0CAROL", "ratelimited")  # Carol's DM: Slack says "later"
    await sweep_at(bot, filed + 10 * 60)
    assert len(reminders_in(slack, request_id)) == 1
    assert len(dms(slack, "U0BOB")) == 1
    assert dms(slack, "U0CAROL") == [] and dms(slack, "U0DAVE") == []

    await sweep_at(bot, filed + 10 * 60 + lease / 2)  # the poster's lease still holds
    assert dms(slack, "U0DAVE") == []

    slack.allow_channel("U0CAROL")
    await sweep_at(bot, filed + 10 * 60 + lease + 1)  # lapsed: the rest goes out
    assert len(reminders_in(slack, request_id)) == 1
    assert [len(dms(slack, u)) for u in APPROVERS] == [1, 1, 1]

    slack.fail("chat.postMessage", *[SlackServerError()] * 3)  # the escalation's first post
    await sweep_at(bot, filed + 30 * 60)
    assert len(reminders_in(slack, request_id)) == 1
    await sweep_at(bot, filed + 30 * 60 + lease + 1)
    assert len(reminders_in(slack, request_id)) == 2
    assert len(channel_texts(slack, SECOPS)) == 1 and len(dms(slack, "U0CTO")) == 1
    await sweep_at(bot, filed + 40 * 60)
    assert len(reminders_in(slack, request_id)) == 2
    kinds = await event_kinds(bot, request_id)
    assert kinds.count("reminded") == 1 and kinds.count("escalated") == 1


async def test_a_post_slack_refuses_for_good_is_recorded_and_the_rest_still_go(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id, filed = await file(slack, bot)
    slack.refuse_channel(SECOPS, "not_in_channel")
    await sweep_at(bot, filed + 10 * 60)
    await sweep_at(bot, filed + 30 * 60)
    assert len(reminders_in(slack, request_id)) == 2
    assert channel_texts(slack, SECOPS) == []
    assert len(dms(slack, "U0CTO")) == 1
    refused = [
        e.detail
        for e in await bot.services.store.events(request_id)
        if e.kind == "slack_refused" and e.detail.get("step") == "escalated"
    ]
    assert refused == [{"step": "escalated", "to": f"channel:{SECOPS}", "error": "not_in_channel"}]
    slack.allow_channel(SECOPS)
    await sweep_at(bot, filed + 40 * 60)  # done is done: not posted again
    assert channel_texts(slack, SECOPS) == []


async def test_a_revoked_token_holds_the_reminder_until_it_is_restored(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id, filed = await file(slack, bot)
    lease = bot.services.settings.lease_seconds
    slack.revoke_token()
    await sweep_at(bot, filed + 10 * 60)  # no exception out of the sweeper, nothing sent
    assert reminders_in(slack, request_id) == []
    slack.restore_token()
    await sweep_at(bot, filed + 10 * 60 + lease + 1)
    assert len(reminders_in(slack, request_id)) == 1
    assert [len(dms(slack, u)) for u in APPROVERS] == [1, 1, 1]
    assert (await event_kinds(bot, request_id)).count("reminded") == 1
