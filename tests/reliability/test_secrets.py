"""No secret leaves the bot: not into a log line (every logger at DEBUG, slack-sdk, Bolt, httpx
and aiohttp included), not into anything sent to Slack, not into what a user is shown, not
into the database that keeps the record.

The flows below run with faults on both sides, so the error paths (retries, tracebacks of
failed Slack calls, rejected and unusable API keys) are exercised, not only the happy one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import RateLimited, SlackServerError
from bot.slack.services import Services
from bot.wiring import bootstrap, run_socket
from tests.support.bot import start_bot
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack import SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import (
    APPROVALS,
    OPS,
    UNLINK,
    ask,
    card,
    confirm,
    quick_retries,
    request_id_in,
)

REVOKED_KEY = "test-key-globex-revoked-not-real"  # the emulator does not know it: 401
UNUSABLE_KEY = "test-key-initech-\x01-not-real"  # no header can carry it
SECRETS = {
    "acme API key": ORG_ENV["SFVOPI_API_KEY_ACME"],
    "globex API key": ORG_ENV["SFVOPI_API_KEY_GLOBEX"],
    "revoked API key": REVOKED_KEY,
    "unusable API key": UNUSABLE_KEY,
    "bot token": SLACK_BOT_TOKEN,
    "app token": SLACK_APP_TOKEN,
    "signing secret": SLACK_SIGNING_SECRET,
}
LOGGERS = ["", "bot", "handlers", "slack_sdk", "slack_bolt", "httpx", "httpcore", "aiohttp"]

ORGS_WITH_BAD_KEYS = (
    ORGS_YAML
    + """\
  initech:
    api_key_env: SFVOPI_API_KEY_INITECH
    approval_channel: C0INITECH
    policy:
      unlink: {approvals: 1}
      delete: {approvals: 1}
    members:
      U0IVAN: requester
      U0IRIS: approver
"""
)


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def leaky_orgs() -> OrgDirectory:
    """acme with its real (fake) key, globex with a revoked one, initech with an unusable one."""
    env = {
        **ORG_ENV,
        "SFVOPI_API_KEY_GLOBEX": REVOKED_KEY,
        "SFVOPI_API_KEY_INITECH": UNUSABLE_KEY,
    }
    return parse_orgs(ORGS_WITH_BAD_KEYS, env, source="tests/reliability/test_secrets.py")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it: message, arguments, traceback, stack."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def assert_no_secret(where: str, text: str) -> None:
    for name, secret in SECRETS.items():
        assert secret not in text, f"the {name} is in {where}"
        # also as a URL or JSON would carry it
        assert json.dumps(secret)[1:-1] not in text, f"the {name} (JSON-escaped) is in {where}"


def assert_slack_saw_no_secret(slack: SlackStandin) -> None:
    assert_no_secret("the Slack workspace", json.dumps(slack.snapshot(calls=100_000), default=str))
    assert_no_secret("the Web API calls", json.dumps([c.params for c in slack.calls], default=str))


async def test_no_secret_in_logs_slack_or_the_database_after_a_flow_with_faults(
    slack: SlackStandin,
    bot_settings: Settings,
    leaky_orgs: OrgDirectory,
    emulator: Emulator,
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    caplog = everything_logged
    acks: list[object] = []
    running = quick_retries(await start_bot(bot_settings, leaky_orgs, slack))
    try:
        # acme: a 429 on the card, a 500 and a dropped connection at SFVoPI, then success
        slack.fail("chat.postMessage", RateLimited(retry_after=0))
        acme = request_id_in(await ask(slack, running, "U0ALICE", UNLINK))
        emulator.script(ApiFault.SERVER_ERROR, ApiFault.DROP)
        slack.fail("chat.update", *[SlackServerError()] * 3)
        slack.response_url_gone = True
        clicked = await slack.click("U0BOB", APPROVALS, card(slack, acme).ts, "sfvopi_approve")
        acks.append(clicked.body)
        acks.append((await confirm(slack, "U0BOB")).body)
        await running.settle()

        # globex: the key is refused (401); initech: the key cannot even be sent
        for requester, approver, channel, text in (
            ("U0GINA", "U0GARY", "C0GLXAPPR", "delete sfv_app_globex000001 revoked key"),
            ("U0IVAN", "U0IRIS", "C0INITECH", "delete sfv_app_abc123xyz456 unusable key"),
        ):
            request_id = request_id_in(await ask(slack, running, requester, text))
            posted = next(m for m in slack.messages(channel) if f"#{request_id}" in m.text)
            acks.append((await slack.click(approver, channel, posted.ts, "sfvopi_approve")).body)
            acks.append((await confirm(slack, approver)).body)
            await running.settle()

        # commands good and bad, a forged click, an unsigned request, and the sweeper
        for user, text in (
            ("U0ALICE", f"status {acme}"),
            ("U0ALICE", "history"),
            ("U0MULTI", "whoami"),
            ("U0ALICE", "unlink +918000000001 sfv_app_../x r"),
            ("U0GINA", "--org initech pending"),
            ("U0ALICE", "status 99999999999"),
        ):
            result = await slack.command(user, text, channel=OPS)
            acks.append(result.body)
        body = b"command=%2Fsfvopi&text=help&user_id=U0ALICE"
        acks.append((await slack.raw_post(body, {"X-Slack-Signature": "v0=0"})).body)
        running.services.notifier.clock = lambda: 4_000_000_000.0
        await running.sweep_once()
        await running.settle()

        with_secrets_masked = repr(running.services.settings) + repr(leaky_orgs)
        stored = await running.services.store.list_requests(orgs=list(leaky_orgs.orgs))
    finally:
        await running.stop()

    final = {request.org: request for request in stored}
    assert final["acme"].status.value == "succeeded"
    assert "the API key was rejected (401)" in str(final["globex"].targets)
    assert "not usable as a header value" in str(final["initech"].targets)

    text = logged(caplog)
    assert "(redacted)" in text, "slack-sdk logged its request headers, redacted, at DEBUG"
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore logged"
    assert_no_secret("the log", text)
    assert_slack_saw_no_secret(slack)
    assert_no_secret("the acks", json.dumps(acks, default=str))
    assert_no_secret("a repr", with_secrets_masked)
    database_file = Path(bot_settings.database_url.removeprefix("sqlite:///"))
    database = await asyncio.to_thread(database_file.read_bytes)
    for name, secret in SECRETS.items():
        assert secret.encode() not in database, f"the {name} is in the database"


# -- Socket Mode: the app-level token -----------------------------------------------------------


@pytest.fixture
async def socket_services(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[Services]:
    settings = bot_settings.model_copy(
        update={"slack_app_token": SecretStr(SLACK_APP_TOKEN), "slack_signing_secret": None}
    )
    slack.configure_socket(SLACK_APP_TOKEN)
    root = await bootstrap(settings, orgs=orgs, socket_mode=True)
    services = root.services
    task = asyncio.create_task(run_socket(root))
    try:
        await slack.wait_for(lambda: slack.connections > 0 or task.done() or None, timeout=5)
        if task.done():
            task.result()
        yield services
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(AssertionError):
            await services.background.drain()
        await root.close()
        await slack.wait_for(lambda: slack.connections == 0 or None, timeout=5)


async def test_no_secret_in_logs_or_slack_over_socket_mode(
    slack: SlackStandin,
    socket_services: Services,
    emulator: Emulator,
    everything_logged: pytest.LogCaptureFixture,
) -> None:
    result = await slack.command("U0ALICE", UNLINK, channel=OPS)
    assert result.ok and result.ephemeral is not None
    request_id = int(re.findall(r"#(\d+)", result.ephemeral.text)[0])
    await slack.wait_for(
        lambda: next((m for m in slack.messages(APPROVALS) if f"#{request_id}" in m.text), None)
    )
    emulator.script(ApiFault.SERVER_ERROR)
    await slack.click("U0BOB", APPROVALS, card(slack, request_id).ts, "sfvopi_approve")
    await confirm(slack, "U0BOB")
    await slack.wait_for(
        lambda: card(slack, request_id).action_ids() in ([], ["sfvopi_undo"]) or None
    )
    await slack.disconnect_sockets()  # the client reconnects: apps.connections.open again
    await slack.wait_for(lambda: slack.connections > 0 or None, timeout=5)
    assert sum(c.method == "apps.connections.open" for c in slack.calls) >= 2
    await socket_services.background.drain()

    assert_no_secret("the log", logged(everything_logged))
    assert_slack_saw_no_secret(slack)
