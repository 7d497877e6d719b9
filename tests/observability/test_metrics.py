"""`GET /metrics` on the real HTTP front door: it parses with prometheus_client's parser, its
counters move as people act in Slack, it names no secret, user or request, and a configured
bearer token is required (without counting a scrape as hostile traffic)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import SlackApiRefusal
from bot.sfvopi.client import UNLINK_ENDPOINT
from bot.sfvopi.reads import NUMBERS_ENDPOINT
from bot.slack.http import REJECTIONS
from tests.support.bot import RunningBot, start_bot
from tests.support.metrics import Scrape, scrape
from tests.support.orgs import ORG_ENV
from tests.support.processes import wait_until
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import APPROVALS, UNLINK, ask, click, request_id_in

METRICS_TOKEN = "metrics-token-not-real"
LABELS = {"org", "action", "decision", "outcome", "endpoint", "status", "method", "error"}
LABELS |= {"kind", "door", "result", "le"}
CLOSED = {
    "org": {"acme", "globex", "other"},
    "action": {"unlink", "delete"},
    "decision": {"approved", "denied", "cancelled", "expired"},
    "outcome": {"succeeded", "failed", "unknown"},
    "door": {"http", "socket_mode"},
    "kind": {"command", "interaction", "event", "other", "cards", "announcements"},
    "result": {"ok", "failed"},
}


def metrics_url(bot: RunningBot) -> str:
    return bot.url.replace("/slack/events", "/metrics")


async def test_a_request_filed_approved_and_run_moves_the_counters(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    before = await scrape(metrics_url(bot))
    assert before.value("sfvopi_bot_requests_filed_total") == 0
    # the first attempt fails, the retry succeeds
    emulator.script(ApiFault.SERVER_ERROR, method="DELETE")

    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")

    after = await scrape(metrics_url(bot))
    acme = {"org": "acme", "action": "unlink"}
    assert after.value("sfvopi_bot_requests_filed_total", **acme) == 1
    assert after.value("sfvopi_bot_decisions_total", **acme, decision="approved") == 1
    assert after.value("sfvopi_bot_executions_total", **acme, outcome="succeeded") == 1
    assert after.value("sfvopi_bot_time_to_decision_seconds_count", decision="approved") == 1
    unlink = {"endpoint": UNLINK_ENDPOINT}
    assert after.value("sfvopi_bot_sfvopi_requests_total", **unlink, status="500") == 1
    assert after.value("sfvopi_bot_sfvopi_requests_total", **unlink, status="200") == 1
    assert after.value("sfvopi_bot_sfvopi_request_duration_seconds_count", **unlink) == 2
    # the card, its update, the thread reply, the requester's DM, the outcome line at least
    assert after.value("sfvopi_bot_slack_api_calls_total", method="chat.postMessage") >= 4
    assert after.value("sfvopi_bot_slack_api_calls_total", method="chat.update") >= 1
    assert after.value("sfvopi_bot_slack_api_errors_total") == 0
    http = {"door": "http"}
    assert after.value("sfvopi_bot_ack_duration_seconds_count", **http, kind="command") == 1
    interactions = after.value("sfvopi_bot_ack_duration_seconds_count", **http, kind="interaction")
    assert interactions == 2  # the click, and the form it opened
    assert after.value("process_resident_memory_bytes") > 0


async def test_slack_refusals_are_counted_by_method_and_error_and_unknown_codes_capped(
    slack: SlackStandin, bot: RunningBot
) -> None:
    slack.refuse_channel(APPROVALS, "not_in_channel")
    await ask(slack, bot, "U0ALICE", UNLINK)
    slack.allow_channel(APPROVALS)
    slack.fail("chat.postMessage", SlackApiRefusal("a_code_slack_invents_next_year"))
    await ask(slack, bot, "U0ALICE", "unlink +918000000002 sfv_app_abc123xyz456 fraud, INC-1")

    seen = await scrape(metrics_url(bot))
    errors = "sfvopi_bot_slack_api_errors_total"
    post = {"method": "chat.postMessage"}
    # the card, and again once its preview is read (the sweep goes on trying after that)
    assert seen.value(errors, **post, error="not_in_channel") == 2
    assert seen.value(errors, **post, error="other") == 1
    assert "a_code_slack_invents_next_year" not in seen.text
    assert seen.value("sfvopi_bot_slack_api_calls_total", **post) >= 3


async def test_the_exposition_names_no_secret_no_person_no_request_and_only_closed_labels(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    seen = await scrape(metrics_url(bot))

    for secret in (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, *ORG_ENV.values()):
        assert secret not in seen.text
    for private in ("U0ALICE", "U0BOB", "sfv_app_abc123xyz456", "918000000001", "INC-4411"):
        assert private not in seen.text
    for sample in seen.samples:
        assert set(sample.labels) <= LABELS, sample
        for label, allowed in CLOSED.items():
            if label in sample.labels:
                assert sample.labels[label] in allowed, sample
        status = sample.labels.get("status")
        assert status is None or status.isdigit() or status.endswith("xx"), sample
        assert sample.labels.get("endpoint") in (None, UNLINK_ENDPOINT, NUMBERS_ENDPOINT), sample
    assert f'"{request_id}"' not in seen.text


@pytest.fixture
async def guarded_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    settings = bot_settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    running = await start_bot(settings, orgs, slack)
    yield running
    await running.stop()


async def test_with_a_token_set_metrics_need_it_and_a_refused_scrape_is_no_rejection(
    guarded_bot: RunningBot,
) -> None:
    url = metrics_url(guarded_bot)
    assert (await scrape(url)).status == 401
    assert (await scrape(url, token="metrics-token-not-right")).status == 401
    refused = await scrape(url, token=METRICS_TOKEN[:-1])
    assert refused.status == 401 and "sfvopi_bot" not in refused.text
    allowed = await scrape(url, token=METRICS_TOKEN)
    assert allowed.status == 200 and "sfvopi_bot_requests_filed" in allowed.text
    assert METRICS_TOKEN not in allowed.text
    assert guarded_bot.runner.app[REJECTIONS].total == 0


@pytest.fixture
async def sweeping_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    settings = bot_settings.model_copy(update={"sweep_interval_seconds": 0.2})
    running = await start_bot(settings, orgs, slack)
    running.root.sweepers.start()
    yield running
    await running.stop()


async def scraped_until(url: str, check: Callable[[Scrape], bool], what: str) -> Scrape:
    """Scrapes until `check` holds (the sweeper refreshes these figures on its own time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not check(seen := await scrape(url)):
        assert loop.time() < deadline, f"never saw {what}:\n{seen.text}"
        await asyncio.sleep(0.1)
    return seen


async def test_pending_requests_their_age_the_outbox_and_the_sweeper_show_after_sweeps(
    slack: SlackStandin, sweeping_bot: RunningBot
) -> None:
    bot, url = sweeping_bot, metrics_url(sweeping_bot)
    await scraped_until(
        url, lambda s: s.value("sfvopi_bot_sweeps_total", result="ok") > 0, "a sweep"
    )
    slack.refuse_channel(APPROVALS, "not_in_channel")
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))

    seen = await scraped_until(
        url,
        lambda s: (
            s.value("sfvopi_bot_pending_requests", org="acme") == 1
            and s.value("sfvopi_bot_outbox_backlog", kind="cards") == 1
        ),
        "the request pending and its card in the outbox",
    )
    assert seen.value("sfvopi_bot_pending_requests", org="globex") == 0
    assert seen.value("sfvopi_bot_oldest_pending_age_seconds", org="acme") > 0
    assert seen.value("sfvopi_bot_sweep_lag_seconds") < 60
    assert seen.value("sfvopi_bot_last_sweep_timestamp_seconds") > 0

    slack.allow_channel(APPROVALS)
    await wait_until(lambda: bool(slack.messages(APPROVALS)), what="the card, posted by a sweep")
    await click(slack, bot, "U0BOB", request_id, "approve")
    await scraped_until(
        url,
        lambda s: (
            s.value("sfvopi_bot_pending_requests", org="acme") == 0
            and s.value("sfvopi_bot_oldest_pending_age_seconds", org="acme") == 0
            and s.value("sfvopi_bot_outbox_backlog", kind="cards") == 0
        ),
        "nothing pending, nothing left to post",
    )
