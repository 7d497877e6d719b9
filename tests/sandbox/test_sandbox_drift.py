"""The sandbox shows the preview on the card and causes drift on demand: the page's control
links a number behind the bot's back, and the approved request is asked again, not run."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.sandbox import Sandbox

APPROVALS = "C0APPROVALS"
APP, ELSEWHERE = "app_abc123", "sfv_app_abc123xyz456"


async def _post(http: aiohttp.ClientSession, sandbox: Sandbox, path: str, **body: str) -> Any:
    async with http.post(sandbox.url + path, json=body) as response:
        return response.status, await response.json()


async def _card(http: aiohttp.ClientSession, sandbox: Sandbox) -> dict[str, Any]:
    await sandbox.settle()
    async with http.get(f"{sandbox.url}api/state") as response:
        snapshot = await response.json()
    (card,) = snapshot["slack"]["channels"][APPROVALS]["messages"]
    return {**card, "apps": snapshot["emulator"]["apps"]}


async def test_the_page_links_a_number_behind_the_bots_back_and_the_card_asks_again(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, answer = await _post(
        http,
        sandbox,
        "api/command",
        user="U0ALICE",
        channel="C0OPS",
        text=f"/sfvopi unlink +918000000001 {APP} fraud, INC-1",
    )
    assert status == 200 and answer["ok"], answer
    card = await _card(http, sandbox)
    assert f"is linked to `{APP}` now" in str(card["blocks"])

    status, answer = await _post(
        http, sandbox, "api/link_behind", org="acme", app_id=APP, number="+918000000001"
    )
    assert status == 200 and answer["ok"]  # linked already: nothing changes
    status, _ = await _post(
        http, sandbox, "api/link_behind", org="nowhere", app_id=APP, number="+918000000001"
    )
    assert status == 404
    status, _ = await _post(http, sandbox, "api/link_behind", org="acme", app_id=APP, number="1")
    assert status == 400

    # another user moves the number to another app: the unlink approved has nothing to do now
    await _post(
        http, sandbox, "api/link_behind", org="acme", app_id=ELSEWHERE, number="+918000000001"
    )
    status, answer = await _post(
        http,
        sandbox,
        "api/click",
        user="U0BOB",
        channel=APPROVALS,
        ts=card["ts"],
        action_id="sfvopi_approve",
    )
    assert status == 200 and answer["ok"], answer
    await sandbox.settle()
    status, answer = await _post(http, sandbox, "api/submit", user="U0BOB", text="")  # confirmed
    assert status == 200 and answer["closed"], answer
    card = await _card(http, sandbox)
    shown = str(card["blocks"])
    assert "Waiting for approval" in shown
    assert f"is not linked to `{APP}`: nothing to do" in shown
    (line,) = [r["text"] for r in card["replies"] if "did not run" in r["text"]]
    assert f"+918000000001 is no longer linked to {APP}" in line
    assert "+918000000001" in card["apps"]["acme"][ELSEWHERE]
