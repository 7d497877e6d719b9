"""1,000 slow connections against the real `sfvopi-bot serve` with 1,100 descriptors: the
bot keeps answering /healthz and signed commands, and closes the slow ones itself."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.slack.limits import REQUEST_TIMEOUT
from tests.support.database import fresh_bot_database
from tests.support.orgs import ORGS_YAML
from tests.support.processes import BotProcess, bot_env, start_bot_process
from tests.support.slack import SLACK_SIGNING_SECRET

NOFILE = 1100
SLOW = 1000
HOST = "127.0.0.1"
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_NOFILE as on Linux")


def few_descriptors() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@pytest.fixture
async def starved_bot(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator, migrated_sqlite: Path
) -> AsyncIterator[BotProcess]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < NOFILE:
        pytest.skip(f"hard RLIMIT_NOFILE {hard} < {NOFILE}")
    if soft != resource.RLIM_INFINITY and soft < SLOW + 500:  # this process holds the 1,000
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        fresh_bot_database(migrated_sqlite, tmp_path / "bot.db"),
        ORGS_YAML,
        SFVOPI_LOG_LEVEL="INFO",
    )
    bot = await start_bot_process("starved", env, tmp_path, preexec_fn=few_descriptors)
    try:
        await bot.ready(timeout=60)
        limits = await asyncio.to_thread(Path(f"/proc/{bot.proc.pid}/limits").read_text)
        assert any(
            line.startswith("Max open files") and str(NOFILE) in line
            for line in limits.splitlines()
        ), limits
        slack.configure(bot.url, SLACK_SIGNING_SECRET)
        yield bot
    finally:
        await bot.stop()


async def open_slow(port: int, count: int) -> list[Conn]:
    """`count` connections: half stop mid-headers, half send Slack-shaped headers and then a
    body that never comes faster than a byte a second."""
    stamp = str(int(time.time()))
    partial = b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    trickle = (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n"
        f"X-Slack-Request-Timestamp: {stamp}\r\nX-Slack-Signature: v0={'0' * 64}\r\n\r\n"
    ).encode()
    conns: list[Conn] = []

    async def one(i: int) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
        conns.append((reader, writer))
        writer.write(partial if i % 2 else trickle)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))
    return conns


async def drip(conns: list[Conn], seconds: int) -> None:
    """A byte a second on every connection still open, for at most `seconds` seconds."""
    for _ in range(seconds):
        for _reader, writer in conns:
            if not writer.is_closing():
                with contextlib.suppress(ConnectionError, OSError):
                    writer.write(b"a")
        await asyncio.sleep(1)


async def closed_by_server(conn: Conn, deadline: float) -> bool:
    reader, _writer = conn
    loop = asyncio.get_running_loop()
    try:
        while (left := deadline - loop.time()) > 0:
            if not await asyncio.wait_for(reader.read(65536), left):
                return True
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False
    return reader.at_eof()


async def test_slow_connections_neither_starve_nor_stay(
    starved_bot: BotProcess, slack: SlackStandin
) -> None:
    loop = asyncio.get_running_loop()
    conns = await open_slow(starved_bot.port, SLOW)
    dripping = asyncio.create_task(drip(conns, seconds=int(REQUEST_TIMEOUT) * 3))
    opened = loop.time()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"http://{HOST}:{starved_bot.port}/healthz",
                timeout=aiohttp.ClientTimeout(total=60),
            ) as response,
        ):
            assert response.status == 200, starved_bot.output()
            assert await response.json() == {"ok": True}
        result = await slack.command("U0ALICE", "help")
        assert result.ok, (result, starved_bot.output())
        assert result.ephemeral is not None and result.ephemeral.text

        # Every slow connection is closed by the bot within its deadline (plenty of slack).
        deadline = opened + REQUEST_TIMEOUT + 60
        closed = await asyncio.gather(*(closed_by_server(c, deadline) for c in conns))
        assert all(closed), f"{closed.count(False)} slow connections still open"
    finally:
        dripping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dripping
        for _reader, writer in conns:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for _r, w in conns), return_exceptions=True)
    assert starved_bot.proc.returncode is None, starved_bot.output()
    log = starved_bot.log.read_text(encoding="utf-8", errors="replace")
    assert "Too many open files" not in log and "out of system resource" not in log, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    # what the slow clients cost in log lines, not the migrations logged before it listened
    served = log.split(" listening on ", 1)[-1]
    assert len(served.encode()) < 4000, served[-4000:]
