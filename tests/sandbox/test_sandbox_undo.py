"""The sandbox shows Undo: an unlink run from the page carries Undo on its card; a click files
the undo (its own card), an approval runs it, and the page's emulator state has the number
back on its app. The pre-image is recorded through the bot's store while the request waits
(the bot's own read before running lands with the preview work)."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.sandbox import Sandbox

OPS, APPROVALS = "C0OPS", "C0APPROVALS"
ALICE, BOB = "U0ALICE", "U0BOB"
NUMBER, APP = "+918000000001", "app_abc123"


async def post(http: aiohttp.ClientSession, sandbox: Sandbox, path: str, **body: str) -> None:
    async with http.post(sandbox.url + path.lstrip("/"), json=body) as response:
        answer = await response.json()
        assert response.status == 200 and (answer.get("ok") or answer.get("closed")), answer
    await sandbox.settle()


async def approve(http: aiohttp.ClientSession, sandbox: Sandbox, ts: str) -> None:
    """Bob clicks Approve and confirms in the form it opens."""
    click = {"channel": APPROVALS, "action_id": "sfvopi_approve"}
    await post(http, sandbox, "/api/click", user=BOB, ts=ts, **click)
    await post(http, sandbox, "/api/submit", user=BOB, text="")


async def cards(http: aiohttp.ClientSession, sandbox: Sandbox) -> tuple[dict[str, Any], list[Any]]:
    async with http.get(f"{sandbox.url}api/state") as response:
        snapshot: dict[str, Any] = await response.json()
    return snapshot, snapshot["slack"]["channels"][APPROVALS]["messages"]


async def test_undo_in_the_sandbox(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    text = f"/sfvopi unlink {NUMBER} {APP} fraud on this DID, INC-4411"
    await post(http, sandbox, "/api/command", user=ALICE, channel=OPS, text=text)
    _, (card,) = await cards(http, sandbox)
    await approve(http, sandbox, card["ts"])
    snapshot, (card,) = await cards(http, sandbox)
    assert NUMBER not in snapshot["emulator"]["apps"]["acme"][APP]
    assert "sfvopi_undo" in str(card["blocks"])

    undo = {"channel": APPROVALS, "action_id": "sfvopi_undo"}
    await post(http, sandbox, "/api/click", user=ALICE, ts=card["ts"], **undo)
    _, (original, undo_card) = await cards(http, sandbox)
    assert "Undo requested: request #2" in str(original["blocks"])
    assert "Undo request #1" in undo_card["text"]
    await approve(http, sandbox, undo_card["ts"])
    snapshot, (original, _) = await cards(http, sandbox)
    assert NUMBER in snapshot["emulator"]["apps"]["acme"][APP]
    assert "Undone by request #2" in str(original["blocks"])
