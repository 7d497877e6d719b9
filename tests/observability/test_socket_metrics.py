"""`GET /metrics` beside Socket Mode's `/healthz`: the same registry, with the acks sent over
the WebSocket counted by door, and the token required there too when one is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from bot.slack.services import Services
from bot.wiring import Bot, bootstrap, run_socket
from tests.support.metrics import scrape
from tests.support.processes import free_port, wait_until
from tests.support.slack import SLACK_APP_TOKEN
from tests.support.slack_user import UNLINK

METRICS_TOKEN = "socket-metrics-token-not-real"


@dataclass
class SocketBot:
    root: Bot
    task: asyncio.Task[None]
    port: int

    @property
    def services(self) -> Services:
        return self.root.services

    @property
    def metrics(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"


Start = Callable[[SecretStr | None], Awaitable[SocketBot]]


@pytest.fixture
async def start_socket_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[Start]:
    running: list[SocketBot] = []

    async def start(token: SecretStr | None) -> SocketBot:
        settings = bot_settings.model_copy(
            update={
                "slack_app_token": SecretStr(SLACK_APP_TOKEN),
                "slack_signing_secret": None,
                "metrics_token": token,
            }
        )
        slack.configure_socket(SLACK_APP_TOKEN)
        root = await bootstrap(settings, orgs=orgs, socket_mode=True)
        port = free_port()
        task = asyncio.create_task(run_socket(root, health=("127.0.0.1", port)))
        bot = SocketBot(root, task, port)
        running.append(bot)
        await wait_until(lambda: slack.connections == 1 or task.done(), what="the socket")
        if task.done():
            task.result()
        return bot

    yield start
    for bot in running:
        await bot.services.background.settle(10)
        bot.task.cancel()
        await asyncio.gather(bot.task, return_exceptions=True)
        await bot.root.close()
    await slack.wait_for(lambda: slack.connections == 0, timeout=5)


async def test_a_command_over_the_socket_is_counted_on_the_health_port(
    start_socket_bot: Start, slack: SlackStandin
) -> None:
    bot = await start_socket_bot(None)
    result = await slack.command("U0ALICE", UNLINK)
    assert result.ephemeral is not None and "#1" in result.ephemeral.text
    await bot.services.background.settle(10)

    seen = await scrape(bot.metrics)
    assert seen.status == 200
    acks = "sfvopi_bot_ack_duration_seconds_count"
    assert seen.value(acks, door="socket_mode", kind="command") == 1
    assert seen.value(acks, door="http") == 0
    assert seen.value("sfvopi_bot_requests_filed_total", org="acme", action="unlink") == 1
    assert seen.value("sfvopi_bot_slack_api_calls_total", method="apps.connections.open") >= 1
    assert "U0ALICE" not in seen.text and SLACK_APP_TOKEN not in seen.text


async def test_the_health_port_asks_for_the_token_when_one_is_set(
    start_socket_bot: Start,
) -> None:
    bot = await start_socket_bot(SecretStr(METRICS_TOKEN))
    assert (await scrape(bot.metrics)).status == 401
    assert (await scrape(bot.metrics, token=METRICS_TOKEN)).status == 200
