"""SIGTERM finishes the work in flight, in both modes, with the real `sfvopi-bot` process.

An approval is clicked and its SFVoPI call held in the emulator; SIGTERM arrives while it is
held. The bot stops taking new commands (HTTP: the port closes; Socket Mode: the WebSocket
closes), keeps running until the call is released, then completes the request (the call
takes effect, the store says succeeded, the card is updated in place) and exits 0.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import Timeout
from bot.store import Store
from tests.support.database import fresh_bot_database
from tests.support.orgs import ORGS_YAML
from tests.support.processes import BotProcess, bot_env, start_bot_process, wait_until
from tests.support.slack import SLACK_APP_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import confirm

APPROVALS = "C0APPROVALS"
OPS = "C0OPS"
UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"
EFFECT = ("unlink", "sfv_app_abc123xyz456", "+918000000001")
STOPPING = "SIGTERM: taking no new commands"


async def start(command: str, env: dict[str, str], tmp_path: Path) -> BotProcess:
    """`python -m bot COMMAND` as an operator runs it, its output in a log file."""
    return await start_bot_process(command, env, tmp_path, command=command)


def log_of(bot: BotProcess) -> str:
    return bot.log.read_text(encoding="utf-8", errors="replace")


def card_ts(slack: SlackStandin, request_id: int) -> str | None:
    for message in slack.messages(APPROVALS):
        if f"request #{request_id}" in message.text:
            return message.ts
    return None


async def port_closed(port: int) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=2)),
        ):
            return False
    except aiohttp.ClientConnectionError:
        return True


@pytest.mark.parametrize("command", ["serve", "socket"])
async def test_sigterm_finishes_an_approval_in_flight_then_exits_0(
    command: str, tmp_path: Path, slack: SlackStandin, emulator: Emulator, migrated_sqlite: Path
) -> None:
    database_url = fresh_bot_database(migrated_sqlite, tmp_path / "bot.db")
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        database_url,
        ORGS_YAML,
        # far longer than the call is held here, so the client never gives up and retries
        SFVOPI_API_TIMEOUT_SECONDS="120",
    )
    if command == "socket":
        del env["SLACK_SIGNING_SECRET"]
        env["SLACK_APP_TOKEN"] = SLACK_APP_TOKEN
        slack.configure_socket(SLACK_APP_TOKEN)
    bot = await start(command, env, tmp_path)
    try:
        await bot.ready()  # /healthz 200: the database answers (and, in Socket Mode, the socket)
        if command == "serve":
            slack.configure(bot.url, SLACK_SIGNING_SECRET)

        asked = await slack.command("U0ALICE", UNLINK, channel=OPS)
        assert asked.ok and asked.ephemeral is not None, (asked, bot.output())
        match = re.search(r"#(\d+)", asked.ephemeral.text)
        assert match, asked.ephemeral.text
        request_id = int(match.group(1))
        ts = await slack.wait_for(lambda: card_ts(slack, request_id), timeout=15)

        with emulator.hold("%2B") as held:  # the unlink, not the preview's reads before it
            clicked = await slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")
            assert clicked.ok, (clicked, bot.output())
            assert (await confirm(slack, "U0BOB", timeout=15)).ok, bot.output()
            await held.wait_arrived(timeout=15)

            bot.proc.send_signal(signal.SIGTERM)
            await wait_until(lambda: STOPPING in log_of(bot), what="the stopping line")
            if command == "serve":
                await wait_until_async(lambda: port_closed(bot.port), what="the port to close")
            else:
                await slack.wait_for(lambda: slack.connections == 0, timeout=15)
            # It cannot have finished: the call it waits for is still held.
            assert bot.proc.returncode is None, bot.output()
            assert held.waiting == 1
            assert emulator.effective.get(EFFECT, 0) == 0
            # Slack is slow to take the card update that follows: it is waited for as well,
            # not dropped once the execution itself is done.
            slack.fail("chat.update", Timeout(seconds=1.0))

        code = await asyncio.wait_for(bot.proc.wait(), timeout=60)
        assert code == 0, bot.output()
    finally:
        await bot.kill9()

    assert emulator.effective[EFFECT] == 1
    card = slack.message(APPROVALS, ts)
    # updated in place: no decision buttons, only Undo (the pre-image was read before the run)
    assert card is not None and card.action_ids() == ["sfvopi_undo"], card.blocks
    assert "Done" in str(card.blocks) and "approved by <@U0BOB>" in str(card.blocks), card.blocks
    (reply,) = slack.thread(APPROVALS, ts)
    assert "+918000000001" in reply.text
    assert slack.messages("C0OPSLOG"), "the outcome line is announced before the exit"
    store = Store(database_url)
    try:
        request = await store.get(request_id)
    finally:
        await store.close()
    assert request is not None and request.status is Status.SUCCEEDED
    output = log_of(bot)
    assert "Traceback" not in output, output
    assert "unfinished" not in output, output


async def wait_until_async(check: object, *, what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)
