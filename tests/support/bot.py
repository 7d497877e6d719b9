"""Fixtures: the bot itself, its real HTTP server on loopback, wired to the stand-ins."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.slack.http import HttpServer, start_http
from bot.slack.services import Services
from bot.wiring import Bot, bootstrap, http_application, run_socket
from tests.support.database import fresh_bot_database
from tests.support.slack import SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET

__all__ = [
    "BotClock",
    "RunningBot",
    "SocketBot",
    "bot",
    "bot_clock",
    "bot_settings",
    "socket_bot",
    "start_bot",
    "start_front_door",
]


@dataclass
class RunningBot:
    root: Bot  # as the composition root built it (bot/wiring)
    runner: web.AppRunner
    url: str
    http: HttpServer | None = None  # the guarded listener `serve` uses (start_front_door)

    @property
    def services(self) -> Services:
        return self.root.services

    async def sweep_once(self) -> None:
        """One pass of every sweeper, as each replica's timer runs it."""
        await self.root.sweep_once()

    async def reload_orgs(self, directory: OrgDirectory) -> None:
        """What SIGHUP does with a good organization file."""
        await self.root.reload_orgs(directory)

    async def settle(self, timeout: float = 10.0) -> None:
        """Waits until every piece of work started after an ack has finished."""
        await self.services.background.settle(timeout)

    async def stop(self) -> None:
        await self.settle()
        if self.http is not None:
            await self.http.close()
        else:
            await self.runner.cleanup()
        await self.root.close()


class BotClock:
    """The workflow's clock for a test's bot: real time until the test sets `at` (to reach a
    deadline without waiting); handed to the bot when it is built."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> float:
        return self.at if self.at is not None else time.time()


async def start_bot(
    settings: Settings,
    orgs: OrgDirectory,
    slack: SlackStandin,
    *,
    clock: Callable[[], float] = time.time,
) -> RunningBot:
    root = await bootstrap(settings, orgs=orgs, clock=clock)
    runner = web.AppRunner(http_application(root), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/slack/events"
    slack.configure(url, SLACK_SIGNING_SECRET)
    return RunningBot(root, runner, url)


async def start_front_door(
    settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> RunningBot:
    """The bot behind the listener `sfvopi-bot serve` opens (`start_http`): its connection
    guard, its bare error pages and its quiet log for garbage, as on the internet."""
    root = await bootstrap(settings, orgs=orgs)
    http = await start_http(http_application(root), host="127.0.0.1", port=0)
    url = f"http://127.0.0.1:{http.port}/slack/events"
    slack.configure(url, SLACK_SIGNING_SECRET)
    return RunningBot(root, http.runner, url, http)


@pytest.fixture
def bot_settings(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator, migrated_sqlite: Path
) -> Settings:
    """The bot on a SQLite database already at head (a copy of the session's template)."""
    return Settings(
        _env_file=None,
        slack_bot_token=SLACK_BOT_TOKEN,
        slack_signing_secret=SLACK_SIGNING_SECRET,
        slack_api_url=slack.api_url,
        base_url=emulator.base_url,
        database_url=fresh_bot_database(migrated_sqlite, tmp_path / "bot.db"),
        api_timeout_seconds=2,
        lease_seconds=5,
    )


@pytest.fixture
def bot_clock() -> BotClock:
    return BotClock()


@pytest.fixture
async def bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin, bot_clock: BotClock
) -> AsyncIterator[RunningBot]:
    running = await start_bot(bot_settings, orgs, slack, clock=bot_clock)
    yield running
    await running.stop()


@dataclass
class SocketBot:
    """The bot in Socket Mode, connected to the stand-in's WebSocket."""

    root: Bot
    task: asyncio.Task[None]

    @property
    def services(self) -> Services:
        return self.root.services

    async def settle(self, timeout: float = 10.0) -> None:
        """Waits until every piece of work started after an ack has finished."""
        await self.services.background.settle(timeout)


@pytest.fixture
async def socket_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[SocketBot]:
    """The bot over Socket Mode (app-level token, no signing secret), the stand-in delivering
    over its WebSocket."""
    settings = bot_settings.model_copy(
        update={"slack_app_token": SecretStr(SLACK_APP_TOKEN), "slack_signing_secret": None}
    )
    slack.configure_socket(SLACK_APP_TOKEN)
    root = await bootstrap(settings, orgs=orgs, socket_mode=True)
    task = asyncio.create_task(run_socket(root))
    running = SocketBot(root, task)
    try:
        await slack.wait_for(lambda: slack.connections > 0 or task.done(), timeout=10)
        if task.done():
            task.result()
            raise AssertionError("run_socket returned without connecting")
        yield running
    finally:
        with contextlib.suppress(AssertionError, TimeoutError):
            await running.settle()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await root.close()
        await slack.wait_for(lambda: slack.connections == 0, timeout=5)
