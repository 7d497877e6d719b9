"""Work promised by an ack runs even when nobody reads the ack.

Slack (or a proxy) may drop the connection between sending an approval (the form that confirms
an Approve click) and reading our answer. It was verified and its work decided; losing it
would leave an approval uncounted or its run undone, with nobody told. Here each submission is
written to a raw socket that is reset at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, card, request_id_in

CLICKS = 10


def approve_body(request_id: int, seen: int) -> bytes:
    """The approval form for `request_id`, submitted by an approver (no text field: acme's
    policy asks no note), that showed preview `seen`."""
    payload = {
        "type": "view_submission",
        "user": {"id": "U0BOB"},
        "team": {"id": "T0SFVOPI"},
        "trigger_id": f"1.2.{request_id}",
        "view": {
            "type": "modal",
            "callback_id": "sfvopi_approve_note",
            "private_metadata": json.dumps(
                {"request": request_id, "where": APPROVALS, "preview": seen}
            ),
            "state": {"values": {}},
        },
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def send_and_reset(url: str, body: bytes, headers: dict[str, str]) -> None:
    """Writes a whole signed request, then resets the connection without reading a byte."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    del reader


async def test_approvals_whose_connection_drops_before_the_ack_still_run(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    filed = []
    for i in range(CLICKS):
        result = await slack.command(
            "U0ALICE", f"unlink +91800000{i:04d} sfv_app_abc123xyz456 dropped ack {i}"
        )
        assert result.ephemeral is not None
        filed.append(request_id_in(result.ephemeral.text))
    await bot.settle()
    for request_id in filed:
        shown = await bot.services.workflow.store.latest_preview(request_id)
        assert shown is not None  # read after the ack, which the bot settled
        body = approve_body(request_id, shown.seq)
        await send_and_reset(bot.url, body, slack.sign(body))

    async def all_final() -> bool:
        states = [await bot.services.store.get(r) for r in filed]
        return all(s is not None and s.status.final for s in states)

    await wait_until_async(all_final, what="every dropped approval to run")
    await bot.settle()
    for request_id in filed:
        stored = await bot.services.store.get(request_id)
        assert stored is not None and stored.approvers == ("U0BOB",)
        assert stored.status is not Status.PENDING
        assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])


async def wait_until_async(
    check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
