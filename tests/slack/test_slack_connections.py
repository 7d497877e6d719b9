"""The bot's Web API calls share one HTTP session (bot/slack/services.py, issue 16): a run of
commands rides a kept-alive connection or two instead of one connection per call, the
connections close when the bot stops, and a kept-alive connection Slack drops is retried.

The bot talks to the stand-in through a TCP relay here that counts the connections the bot
opens and can drop one as a request arrives on it, as a server closing an idle keep-alive
connection does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot, start_bot
from tests.support.slack_user import APPROVALS, card, request_id_in

COMMANDS = 6
WAIT = 10.0  # for a close to be seen: generous on a busy machine, short of aiohttp's 15 s


def unlink(i: int) -> str:
    return f"unlink +9180{i:08d} sfv_app_abc123xyz456 fraud on this DID, INC-4411"


class Relay:
    """A TCP relay in front of the stand-in's Web API: counts the connections made to it,
    knows which are open, and drops the next request that arrives when asked to."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.opened = 0
        self.open: set[asyncio.StreamWriter] = set()
        self.drop_next = False
        self.dropped = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    @property
    def api_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self.open):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        self.open.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        back = asyncio.create_task(self._pipe(up_reader, writer))
        try:
            while data := await reader.read(65536):
                if self.drop_next:
                    self.drop_next = False
                    self.dropped += 1
                    break  # taken, never passed on: the client sees its connection close
                up_writer.write(data)
                await up_writer.drain()
        except ConnectionError:
            pass
        finally:
            back.cancel()
            await asyncio.gather(back, return_exceptions=True)
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError):
                    await w.wait_closed()
            self.open.discard(writer)
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


@pytest.fixture
async def relay(slack: SlackStandin) -> AsyncIterator[Relay]:
    relay = Relay(slack.api_url)
    await relay.start()
    yield relay
    await relay.stop()


@contextlib.asynccontextmanager
async def bot_behind(
    relay: Relay, bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    settings = bot_settings.model_copy(update={"slack_api_url": relay.api_url})
    running = await start_bot(settings, orgs, slack)
    try:
        yield running
    finally:
        await running.stop()


async def file(slack: SlackStandin, bot: RunningBot, i: int) -> int:
    result = await slack.command("U0ALICE", unlink(i))
    assert result.status == 200, result.body
    await bot.settle()
    assert result.ephemeral is not None
    return request_id_in(result.ephemeral.text)


def web_api_calls(slack: SlackStandin) -> int:
    """Calls made through the relay: every one but posts to response URLs."""
    return sum(c.method != "response_url" for c in slack.calls)


async def until(condition: object, timeout: float = WAIT) -> bool:
    """Polls `condition` (a no-argument callable) until true or `timeout` passes."""
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_commands_ride_kept_alive_connections_closed_when_the_bot_stops(
    relay: Relay, bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> None:
    async with bot_behind(relay, bot_settings, orgs, slack) as bot:
        opened_at_start, calls_at_start = relay.opened, web_api_calls(slack)
        request_ids = [await file(slack, bot, i) for i in range(COMMANDS)]
        for request_id in request_ids:
            assert "Approve" in str(card(slack, request_id).blocks)
        calls = web_api_calls(slack) - calls_at_start
        opened = relay.opened - opened_at_start
        assert calls >= COMMANDS  # a card posted for each, at least
        assert opened <= 2, f"{opened} connections for {calls} Web API calls"
        assert relay.open  # still kept alive between calls
    # the bot stopped: its session closed the kept-alive connections, not left them to linger
    assert await until(lambda: not relay.open), f"{len(relay.open)} left open"


async def test_a_dropped_kept_alive_connection_is_retried_and_the_card_lands(
    relay: Relay, bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> None:
    async with bot_behind(relay, bot_settings, orgs, slack) as bot:
        first = await file(slack, bot, 1)
        assert relay.open  # the connection the next call will try first
        relay.drop_next = True  # as a Slack that closed it just as the request went out
        second = await file(slack, bot, 2)
        assert relay.dropped == 1
        for request_id in (first, second):
            assert "Approve" in str(card(slack, request_id).blocks)
        cards = [
            c
            for c in slack.calls
            if c.method == "chat.postMessage" and c.params.get("channel") == APPROVALS
        ]
        assert len(cards) == 2  # the dropped one posted once, not twice
