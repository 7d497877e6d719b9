"""`sfvopi-bot sandbox`: the page, its HTTP API, and the whole flow in a real headless Chromium.

The sandbox runs in-process (emulator, Slack stand-in, the bot on its real signed endpoint,
and the page server). The browser tests run Debian's Chromium (see tests/sandbox/browser.py);
the page's layout, its DMs and the README's screenshots are in test_page.py. The HTTP API
tests cover the same flow without a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli import build_parser
from bot.cli import sandbox as sandbox_command
from bot.sandbox import DEMO_APPS, Sandbox, start_sandbox
from bot.slack.blocks import UNDO
from tests.sandbox.browser import needs_browser, open_page, type_command

with contextlib.suppress(ImportError):  # the browser tests skip without it
    from playwright.async_api import Browser, Page, expect

OPS, APPROVALS, OPSLOG = "C0OPS", "C0APPROVALS", "C0OPSLOG"
ALICE, BOB, DAVE, EVE = "U0ALICE", "U0BOB", "U0DAVE", "U0EVE"
NUMBER, APP = "+918000000001", "app_abc123"
UNLINK = f"/sfvopi unlink {NUMBER} {APP} fraud on this DID, INC-4411"


async def api(
    http: aiohttp.ClientSession, sandbox: Sandbox, path: str, **body: str
) -> tuple[int, dict[str, Any]]:
    async with http.post(sandbox.url + path.lstrip("/"), json=body) as response:
        return response.status, await response.json()


async def state(http: aiohttp.ClientSession, sandbox: Sandbox, query: str = "") -> dict[str, Any]:
    async with http.get(f"{sandbox.url}api/state{query}") as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


def writes(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's calls that may change something (a preview's reads left out)."""
    return [c for c in snapshot["emulator"]["calls"] if c["method"] != "GET"]


def the_card(snapshot: dict[str, Any]) -> dict[str, Any]:
    messages = snapshot["slack"]["channels"][APPROVALS]["messages"]
    assert len(messages) == 1, messages
    card: dict[str, Any] = messages[0]
    return card


def told(snapshot: dict[str, Any], user: str, channel: str) -> list[str]:
    return [
        e["text"]
        for e in snapshot["slack"]["ephemerals"]
        if e["user"] == user and e["channel"] == channel
    ]


# -- the HTTP API the page uses --------------------------------------------------------------


async def test_page_and_config(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get(sandbox.url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "SFVoPI emulator" in page
    assert "https://" not in page  # nothing is fetched from anywhere but the sandbox
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    snapshot = await state(http, sandbox)
    config = snapshot["config"]
    assert [c["id"] for c in config["channels"]] == [OPS, APPROVALS, OPSLOG]
    assert [c["name"] for c in config["channels"]] == ["ops", "approvals", "ops-log"]
    labels = {u["id"]: u["label"] for u in config["users"]}
    assert config["users"][0]["id"] == ALICE
    assert labels[ALICE] == "Alice (requester)"
    assert labels[BOB] == "Bob (approver)"
    assert labels[DAVE] == "Dave (admin)"
    assert labels["U0VIC"] == "Victor (viewer)"
    assert labels[EVE] == "Eve (not in any org)"
    assert snapshot["emulator"]["apps"]["acme"] == {k: list(v) for k, v in DEMO_APPS.items()}
    assert snapshot["emulator"]["calls"] == []


async def test_unlink_flow_over_the_api(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    status, answer = await api(http, sandbox, "/api/command", user=ALICE, channel=OPS, text=UNLINK)
    assert status == 200 and answer["ok"], answer
    assert "Request *#1*" in answer["ephemeral"]
    await sandbox.settle()
    snapshot = await state(http, sandbox)
    card = the_card(snapshot)
    assert "sfvopi_approve" in str(card["blocks"])

    # The requester's own click is refused, privately, and nothing is called.
    status, answer = await api(
        http,
        sandbox,
        "/api/click",
        user=ALICE,
        channel=APPROVALS,
        ts=card["ts"],
        action_id="sfvopi_approve",
    )
    assert status == 200 and answer["ok"], answer
    await sandbox.settle()
    snapshot = await state(http, sandbox)
    assert any("you are a requester" in text for text in told(snapshot, ALICE, APPROVALS))
    assert told(snapshot, BOB, APPROVALS) == []
    assert writes(snapshot) == []  # the preview reads, nothing else

    version = snapshot["version"]
    waiting = asyncio.create_task(state(http, sandbox, f"?since={version}&timeout=20"))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # a long poll, answered on the next change
    status, answer = await api(
        http, sandbox, "/api/click", user=BOB, channel=APPROVALS, ts=card["ts"], action_id=""
    )
    assert status == 400
    status, answer = await api(
        http,
        sandbox,
        "/api/click",
        user=BOB,
        channel=APPROVALS,
        ts=card["ts"],
        action_id="sfvopi_approve",
    )
    assert status == 200 and answer["ok"], answer
    changed = await asyncio.wait_for(waiting, 10)
    assert changed["version"] > version
    await sandbox.settle()
    # the click opened the bot's form saying what he approves; he confirms it
    form = (await state(http, sandbox))["slack"]["modals"][BOB]
    assert form["title"]["text"] == "Approve request #1" and "fraud" in str(form["blocks"])
    assert writes(await state(http, sandbox)) == []
    status, answer = await api(http, sandbox, "/api/submit", user=BOB, text="")
    assert status == 200 and answer["closed"], answer
    await sandbox.settle()

    snapshot = await state(http, sandbox)
    card = the_card(snapshot)
    assert card["edited"] >= 1
    # no decision buttons left: Undo alone (the pre-image was read before it ran)
    assert [
        e["action_id"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ] == [UNDO]
    assert "Done" in str(card["blocks"])
    assert "succeeded" in card["replies"][0]["text"]
    assert NUMBER not in snapshot["emulator"]["apps"]["acme"][APP]
    [call] = writes(snapshot)
    assert call["method"] == "DELETE" and call["status"] == 200 and call["org"] == "acme"
    assert "#1" in snapshot["slack"]["channels"][OPSLOG]["messages"][0]["text"]


async def test_break_glass_shows_a_red_card_over_the_api(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    text = "/sfvopi unlink +918000000003 sfv_app_abc123xyz456 --break-glass INC-4411 fraud spike"
    status, answer = await api(http, sandbox, "/api/command", user=DAVE, channel=OPS, text=text)
    assert status == 200 and answer["ok"], answer
    assert "broke glass" in answer["ephemeral"]
    await sandbox.settle()
    snapshot = await state(http, sandbox)
    card = the_card(snapshot)
    assert ":rotating_light: Break-glass" in str(card["blocks"])
    assert "sfvopi_review_ack" in str(card["blocks"])
    assert "+918000000003" not in snapshot["emulator"]["apps"]["acme"]["sfv_app_abc123xyz456"]

    status, answer = await api(
        http,
        sandbox,
        "/api/click",
        user=BOB,
        channel=APPROVALS,
        ts=card["ts"],
        action_id="sfvopi_review_ack",
    )
    assert status == 200 and answer["ok"], answer
    await sandbox.settle()
    card = the_card(await state(http, sandbox))
    assert "Acknowledged by <@U0BOB>" in str(card["blocks"])
    assert "sfvopi_review_ack" not in str(card["blocks"])


async def test_refusals_and_errors_over_the_api(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, answer = await api(
        http, sandbox, "/api/command", user=ALICE, channel=OPS, text="/sfvopi unlink 12345"
    )
    assert status == 200
    assert "E.164" in answer["ephemeral"]

    status, answer = await api(http, sandbox, "/api/command", user=EVE, channel=OPS, text=UNLINK)
    assert status == 200 and "not a requester" in answer["ephemeral"]

    # An admin may ask, but not approve their own request.
    text = "delete sfv_app_empty0000001 tidy up"
    status, answer = await api(http, sandbox, "/api/command", user=DAVE, channel=OPS, text=text)
    assert "Request *#1*" in answer["ephemeral"]
    await sandbox.settle()
    card = the_card(await state(http, sandbox))
    await api(
        http,
        sandbox,
        "/api/click",
        user=DAVE,
        channel=APPROVALS,
        ts=card["ts"],
        action_id="sfvopi_approve",
    )
    await sandbox.settle()
    snapshot = await state(http, sandbox)
    assert any("your own request" in t for t in told(snapshot, DAVE, APPROVALS))

    status, answer = await api(
        http, sandbox, "/api/command", user=ALICE, channel=OPS, text="/giphy cats"
    )
    assert "/giphy is not a valid command" in answer["ephemeral"]
    status, answer = await api(
        http, sandbox, "/api/click", user=BOB, channel=APPROVALS, ts="1.2", action_id="x"
    )
    assert status == 404
    status, answer = await api(
        http, sandbox, "/api/message", user="alice", channel=OPS, text="hello"
    )
    assert status == 400
    status, answer = await api(http, sandbox, "/api/message", user=BOB, channel=OPS, text="hi")
    assert status == 200
    snapshot = await state(http, sandbox)
    assert snapshot["slack"]["channels"][OPS]["messages"][-1]["text"] == "hi"


async def test_own_org_file(tmp_path: Path) -> None:
    orgs = tmp_path / "orgs.yml"
    orgs.write_text(
        "organizations:\n"
        "  globex:\n"
        "    api_key_env: SFVOPI_API_KEY_GLOBEX\n"
        "    approval_channel: C0GLXAPPR\n"
        "    members: {U0GINA: requester, U0GARY: approver}\n"
        "  initech:\n"
        "    api_key_env: SFVOPI_API_KEY_INITECH\n"
        "    approval_channel: C0INIAPPR\n"
        "    command_channels: [C0INIOPS]\n"
        "    members: {U0PETER: requester, U0BILL: admin}\n",
        encoding="utf-8",
    )
    environ = {"SFVOPI_API_KEY_GLOBEX": "my-globex-key"}
    running = await start_sandbox(port=0, orgs_file=orgs, environ=environ)
    try:
        config = running.config()
        assert [c["id"] for c in config["channels"]] == [
            "C0INIOPS",
            "C0GENERAL",
            "C0GLXAPPR",
            "C0INIAPPR",
        ]
        labels = [u["label"] for u in config["users"]]
        assert labels == [
            "Gina (requester in globex)",
            "Peter (requester in initech)",
            "Gary (approver in globex)",
            "Bill (admin in initech)",
            "Eve (not in any org)",
        ]
        assert running.emulator.has_app("my-globex-key", APP)
        initech_key = running.directory.orgs["initech"].api_key.get_secret_value()
        assert initech_key.startswith("sandbox-key-")
        assert running.emulator.has_app(initech_key, APP)

        result = await running.slack.command(
            "U0GINA", f"unlink {NUMBER} {APP} test", channel="C0GENERAL"
        )
        assert result.ephemeral is not None and "Request *#1*" in result.ephemeral.text
    finally:
        await running.stop()


async def test_bad_org_file_stops_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["sandbox", "--no-browser", "--orgs", str(tmp_path / "no")])
    assert args.port == 3000 and args.no_browser
    assert await asyncio.to_thread(sandbox_command, args) == 1
    assert "cannot read the organization file" in capsys.readouterr().err


async def test_command_line_runs_until_interrupted() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        "0",
        "--no-browser",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert "sfvopi-bot sandbox: open http://127.0.0.1:" in line, line
        url = line.split("open ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# -- the page, in a real browser --------------------------------------------------------------


@pytest.fixture
async def page(browser: Browser, sandbox: Sandbox) -> AsyncIterator[Page]:
    async with open_page(browser, sandbox, 1440, 900) as opened:
        yield opened


@needs_browser
async def test_whole_flow_in_the_browser(sandbox: Sandbox, page: Page, tmp_path: Path) -> None:
    timeline = page.locator("#timeline")
    await expect(page.locator("#user")).to_have_value(ALICE)
    await expect(
        page.locator(f'#apps .app[data-app="{APP}"] [data-number="{NUMBER}"]')
    ).to_have_count(1)

    # A bad command: an ephemeral error and where help is, for Alice only.
    await type_command(page, "/sfvopi unlink 12345")
    error = timeline.locator(".ephemeral").last
    await expect(error).to_contain_text("Only visible to you")
    await expect(error).to_contain_text("is not a phone number")
    await expect(error).to_contain_text("/sfvopi help for every command")

    # The request, acknowledged privately; the card appears in #approvals.
    await type_command(page, UNLINK)
    await expect(timeline.locator(".ephemeral").last).to_contain_text("Request #1")
    await page.click(f'#channels li[data-channel="{APPROVALS}"]')
    card = timeline.locator(".card")
    await expect(card).to_contain_text("Unlink 1 number — request #1")
    await expect(card).to_contain_text("Waiting for approval")
    await expect(card.locator(".mention").first).to_have_text("@Alice")

    # Alice's own Approve click: refused at once, only she sees it; nothing to confirm first.
    await card.locator('button[data-action-id="sfvopi_approve"]').click()
    refusal = timeline.locator(".ephemeral")
    await expect(refusal).to_contain_text("you are a requester")
    await expect(page.locator("#modal")).to_be_hidden()
    await expect(page.locator("#view-modal")).to_be_hidden()
    await expect(card).to_contain_text("Waiting for approval")

    # Bob approves: the bot's form says what he approves (Back closes it, nothing sent), then
    # for real.
    await page.select_option("#user", BOB)
    await expect(page.locator("#viewing-as")).to_contain_text("Bob")
    await expect(timeline.locator(".ephemeral")).to_have_count(0)
    await card.locator('button[data-action-id="sfvopi_approve"]').click()
    form = page.locator("#view-modal")
    await expect(form).to_be_visible()
    await expect(page.locator("#view-title")).to_have_text("Approve request #1")
    await expect(page.locator("#view-body")).to_contain_text("fraud on this DID")
    await expect(page.locator("#view-body")).to_contain_text("cannot be undone")
    await page.click("#view-close")
    await expect(form).to_be_hidden()
    assert sandbox.emulator.writes == []
    await card.locator('button[data-action-id="sfvopi_approve"]').click()
    await page.click("#view-submit")

    # The card reaches its final state in place, the thread has the details, the number is gone.
    await expect(card).to_contain_text("Done", timeout=15_000)
    # no decision buttons left: Undo alone (the pre-image was read before it ran)
    await expect(card.locator("button")).to_have_count(1)
    await expect(card.locator(f'button[data-action-id="{UNDO}"]')).to_have_count(1)
    await expect(card).to_contain_text("approved by @Bob")
    await expect(timeline.locator(".thread")).to_contain_text("Request #1 succeeded")
    await expect(page.locator(f'#apps [data-number="{NUMBER}"]')).to_have_count(0)
    await expect(page.locator(f'#apps .app[data-app="{APP}"]')).to_contain_text("+918000000002")
    # the preview's reads (after filing, before running), then the one change
    await expect(page.locator("#calls .call")).to_have_count(3)
    unlinked = page.locator("#calls .call", has_text="DELETE")
    await expect(unlinked).to_have_count(1)
    await expect(unlinked).to_contain_text(f"/sfvopi/apps/{APP}/numbers/{NUMBER}")
    await expect(unlinked).to_have_attribute("data-status", "200")
    await expect(page.locator(f'#channels li[data-channel="{OPSLOG}"] .badge')).to_have_text("1")
    await card.screenshot(path=tmp_path / "final-card.png")
    await page.screenshot(path=tmp_path / "sandbox.png")
    assert (tmp_path / "final-card.png").stat().st_size > 0

    # Alice is told the outcome: in her DM with the bot, or privately where she asked. It was
    # sent before the #ops-log line above, so where it went is known by now.
    await page.select_option("#user", ALICE)
    if sandbox.slack.dms(ALICE):
        await page.click("#dms li")
        await expect(page.locator("#channel-title")).to_have_text("sfvopi-bot")
        await expect(timeline.locator(".msg").last).to_contain_text("succeeded")
    else:
        await page.click(f'#channels li[data-channel="{OPS}"]')
        await expect(timeline.locator(".ephemeral").last).to_contain_text("succeeded")
