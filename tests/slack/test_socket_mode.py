"""Socket Mode end to end: `run_socket` opens the stand-in's WebSocket and takes commands
and clicks over it, exactly as over HTTP (same listeners, same acks, same cards).

Slack's Web API (including `apps.connections.open`) is the stand-in, SFVoPI is the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import Message
from bot.slack.services import Services
from bot.wiring import bootstrap, run_socket
from tests.support.slack import SLACK_APP_TOKEN

APPROVALS = "C0APPROVALS"
UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"


@dataclass
class SocketBot:
    services: Services
    task: asyncio.Task[None]

    async def settle(self, timeout: float = 10.0) -> None:
        """Waits until every piece of work started after an ack has finished."""
        await self.services.background.settle(timeout)


@pytest.fixture
async def socket_bot(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[SocketBot]:
    # Socket Mode needs the app-level token and no signing secret (nothing arrives over HTTP).
    settings = bot_settings.model_copy(
        update={"slack_app_token": SecretStr(SLACK_APP_TOKEN), "slack_signing_secret": None}
    )
    slack.configure_socket(SLACK_APP_TOKEN)
    root = await bootstrap(settings, orgs=orgs, socket_mode=True)
    services = root.services
    task = asyncio.create_task(run_socket(root))
    running = SocketBot(services, task)
    try:
        await _connected(slack, task)
        yield running
    finally:
        with contextlib.suppress(AssertionError):
            await running.settle()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await root.close()
        await slack.wait_for(lambda: slack.connections == 0, timeout=5)


async def _connected(slack: SlackStandin, task: asyncio.Task[None]) -> None:
    """Waits for the bot's WebSocket, failing at once with the bot's error if it died first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while slack.connections < 1:
        if task.done():
            task.result()
            raise AssertionError("run_socket returned without connecting")
        if loop.time() > deadline:
            raise AssertionError("the bot never opened a Socket Mode connection")
        await asyncio.sleep(0.01)


def card(slack: SlackStandin, request_id: int) -> Message:
    for message in slack.messages(APPROVALS):
        if f"request #{request_id}" in message.text:
            return message
    raise AssertionError(f"no card for #{request_id} in {APPROVALS}")


async def test_unlink_over_the_socket(
    slack: SlackStandin, socket_bot: SocketBot, emulator: Emulator
) -> None:
    assert any(c.method == "apps.connections.open" for c in slack.calls)

    result = await slack.command("U0ALICE", UNLINK)
    assert result.transport == "socket"
    assert result.ok, result
    assert result.ephemeral is not None
    reply = result.ephemeral.text
    assert "waiting for 1 approval in <#C0APPROVALS>" in reply
    match = re.search(r"#(\d+)", reply)
    assert match, reply
    request_id = int(match.group(1))

    await socket_bot.settle()
    pending = card(slack, request_id)
    assert pending.action_ids() == ["sfvopi_approve", "sfvopi_deny", "sfvopi_cancel"]
    assert not emulator.writes

    clicked = await slack.click("U0BOB", APPROVALS, pending.ts, "sfvopi_approve")
    assert clicked.transport == "socket"
    assert clicked.ok, clicked
    await socket_bot.settle()
    confirmed = await slack.submit_view("U0BOB")  # the form the click opened
    assert confirmed.transport == "socket" and confirmed.closed, confirmed
    await socket_bot.settle()

    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1
    assert len(emulator.writes) == 1
    done = card(slack, request_id)
    assert done.ts == pending.ts
    assert done.action_ids() in ([], ["sfvopi_undo"])
    assert "Done" in str(done.blocks) and "approved by <@U0BOB>" in str(done.blocks)
    stored = await socket_bot.services.workflow.status(request_id, user="U0ALICE")
    assert stored.status is Status.SUCCEEDED


async def test_a_bad_command_over_the_socket_gets_its_error(
    slack: SlackStandin, socket_bot: SocketBot, emulator: Emulator
) -> None:
    result = await slack.command("U0ALICE", "unlink not-a-number")
    assert result.transport == "socket"
    assert result.ok, result
    assert result.ephemeral is not None
    assert result.ephemeral.text.startswith(":warning:")
    await socket_bot.settle()
    assert slack.messages(APPROVALS) == []
    assert not emulator.writes


async def test_the_bot_reconnects_when_slack_refreshes_the_socket(
    slack: SlackStandin, socket_bot: SocketBot
) -> None:
    def opened() -> int:
        return sum(c.method == "apps.connections.open" for c in slack.calls)

    def reconnected() -> bool:
        # A fresh ticket was asked for, and the newest socket is a live one (the old one may
        # linger in the list for a moment after it is closed).
        sockets = slack._sockets
        return opened() > before and bool(sockets) and not sockets[-1].closed

    before = opened()
    await slack.disconnect_sockets()
    await slack.wait_for(reconnected, timeout=10)
    result = await slack.command("U0ALICE", "help")
    assert result.transport == "socket"
    assert result.ok, result
    assert result.ephemeral is not None


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "actions": "not a list"},
        {"type": "block_actions", "actions": []},
        {"type": "block_actions", "actions": [{"value": "1"}]},
    ],
)
async def test_a_malformed_envelope_is_acked_and_ignored(
    slack: SlackStandin,
    socket_bot: SocketBot,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    payload: dict[str, object],
) -> None:
    ack = await slack._envelope("interactive", payload, accepts_response_payload=False)
    assert ack.ok
    assert not emulator.writes
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
