"""`GET /healthz` in Socket Mode, so a container running `sfvopi-bot socket` can be probed:
200 `{"ok": true}` while the database answers and the WebSocket is up, 503 with the reason
otherwise (the database gone, the socket down).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import SlackApiRefusal
from bot.slack.services import Services
from bot.store import Store
from bot.wiring import Bot, bootstrap, run_socket
from tests.support.database import fresh_bot_database
from tests.support.processes import free_port
from tests.support.slack import SLACK_APP_TOKEN


@dataclass
class SocketBot:
    root: Bot
    task: asyncio.Task[None]
    port: int

    @property
    def services(self) -> Services:
        return self.root.services

    @property
    def healthz(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    async def probe(self) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.healthz, timeout=timeout) as answer,
        ):
            return answer.status, await answer.json()

    async def until(self, status: int, timeout: float = 15.0) -> Any:
        """The body of the first answer with `status` (polling; the bot must get there)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: tuple[int, Any] | None = None
        while loop.time() < deadline:
            if self.task.done():
                self.task.result()
            with contextlib.suppress(aiohttp.ClientConnectionError):
                seen = await self.probe()
                if seen[0] == status:
                    return seen[1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"/healthz never answered {status}; last: {seen}")


Start = Callable[[str], Awaitable[SocketBot]]


@pytest.fixture
async def start_socket_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[Start]:
    """Starts `run_socket` with /healthz on a free port, on the database at a URL."""
    running: list[SocketBot] = []

    async def start(database_url: str) -> SocketBot:
        settings = bot_settings.model_copy(
            update={
                "slack_app_token": SecretStr(SLACK_APP_TOKEN),
                "slack_signing_secret": None,
                "database_url": database_url,
            }
        )
        slack.configure_socket(SLACK_APP_TOKEN)
        root = await bootstrap(settings, orgs=orgs, socket_mode=True)
        port = free_port()
        task = asyncio.create_task(run_socket(root, health=("127.0.0.1", port)))
        bot = SocketBot(root, task, port)
        running.append(bot)
        return bot

    yield start
    for bot in running:
        bot.task.cancel()
        await asyncio.gather(bot.task, return_exceptions=True)
        await bot.root.close()
    await slack.wait_for(lambda: slack.connections == 0, timeout=5)


async def test_healthz_is_200_while_connected_and_503_once_the_sqlite_file_is_gone(
    tmp_path: Path, start_socket_bot: Start, slack: SlackStandin, migrated_sqlite: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bot = await start_socket_bot(fresh_bot_database(migrated_sqlite, data / "bot.db"))
    assert await bot.until(200) == {"ok": True}
    assert slack.connections == 1

    shutil.rmtree(data)
    assert await bot.until(503) == {"ok": False, "error": "database file missing"}


async def test_healthz_is_503_once_the_postgresql_database_is_dropped(
    postgres_url: str, start_socket_bot: Start, migrated_postgres: str
) -> None:
    name = f"sfvopi_healthz_{uuid.uuid4().hex[:10]}"
    admin = Store(postgres_url)
    try:
        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_postgres}"')
        url = postgres_url.rsplit("/", 1)[0] + "/" + name
        bot = await start_socket_bot(url)
        assert await bot.until(200) == {"ok": True}

        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        assert await bot.until(503) == {"ok": False, "error": "database unreachable"}
    finally:
        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_healthz_is_503_while_the_socket_is_down(
    tmp_path: Path, start_socket_bot: Start, slack: SlackStandin, migrated_sqlite: Path
) -> None:
    bot = await start_socket_bot(fresh_bot_database(migrated_sqlite, tmp_path / "bot.db"))
    assert await bot.until(200) == {"ok": True}

    # Slack drops the socket and, for a while, refuses to open another one.
    slack.fail("apps.connections.open", *[SlackApiRefusal("internal_error")] * 50)
    await slack.disconnect_sockets()
    assert await bot.until(503) == {"ok": False, "error": "Socket Mode not connected"}

    slack.reset()  # Slack is back: the client reconnects on its own
    assert await bot.until(200, timeout=30) == {"ok": True}
