"""The sandbox runs the bot's Workflow Builder step as a workflow would: the step files a
request in #approvals, an approver approves it, and the page shows the step completed with
its outputs (or failed, saying why) — over the page's HTTP API and in a real browser."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.sandbox import Sandbox
from tests.sandbox.browser import needs_browser, open_page

with contextlib.suppress(ImportError):  # the browser tests skip without it
    from playwright.async_api import Browser, Page, expect

APPROVALS = "C0APPROVALS"
ALICE, BOB, CAROL, VIC = "U0ALICE", "U0BOB", "U0CAROL", "U0VIC"
NUMBER, APP = "+918000000001", "app_abc123"


async def post(http: aiohttp.ClientSession, sandbox: Sandbox, path: str, **body: str) -> Any:
    async with http.post(sandbox.url + path.lstrip("/"), json=body) as response:
        return response.status, await response.json()


async def step_runs(http: aiohttp.ClientSession, sandbox: Sandbox) -> list[dict[str, Any]]:
    async with http.get(f"{sandbox.url}api/state") as response:
        runs: list[dict[str, Any]] = (await response.json())["slack"]["step_runs"]
        return runs


async def test_a_step_run_from_the_page_completes_once_approved(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(
        http,
        sandbox,
        "/api/step",
        user=ALICE,
        step="unlink_numbers",
        targets=f"{NUMBER} {APP}",
        reason="fraud on this DID, INC-4411",
    )
    assert status == 200 and answer["ok"], answer
    await sandbox.settle()
    (run,) = await step_runs(http, sandbox)
    assert run["state"] == "running" and "token" not in run
    card = sandbox.slack.messages(APPROVALS)[-1]
    async with http.get(f"{sandbox.url}api/state") as response:
        waits_on = (await response.json())["step_requests"]
    filed = int(card.text.split("request #")[1].split()[0].strip("*:,."))
    assert waits_on == {run["execution_id"]: filed}, "a running step says which request it filed"
    for approver in (BOB, CAROL):  # a step's request needs one approval more than its policy
        status, _ = await post(
            http,
            sandbox,
            "/api/click",
            user=approver,
            channel=APPROVALS,
            ts=card.ts,
            action_id="sfvopi_approve",
        )
        assert status == 200
        await sandbox.settle()
        status, answer = await post(http, sandbox, "/api/submit", user=approver, text="")
        assert status == 200 and answer["closed"], answer  # confirmed in the bot's form
        await sandbox.settle()
    await sandbox.slack.wait_for(
        lambda: sandbox.slack.step_runs[run["execution_id"]].state != "running", timeout=20
    )
    (run,) = await step_runs(http, sandbox)
    assert run["state"] == "completed" and run["completions"] == 1
    assert run["outputs"]["final_state"] == "succeeded"
    assert NUMBER not in sandbox.emulator.snapshot()["acme"][APP]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user": ALICE, "step": "drop_tables", "targets": APP, "reason": "r"}, 400),
        ({"user": ALICE, "step": "delete_apps", "targets": "", "reason": "r"}, 400),
        ({"user": "nobody", "step": "delete_apps", "targets": APP, "reason": "r"}, 400),
    ],
)
async def test_the_page_s_step_api_checks_what_it_is_sent(
    sandbox: Sandbox, http: aiohttp.ClientSession, body: dict[str, str], status: int
) -> None:
    got, answer = await post(http, sandbox, "/api/step", **body)
    assert got == status and not answer["ok"]
    assert await step_runs(http, sandbox) == []


@pytest.fixture
async def page(browser: Browser, sandbox: Sandbox) -> AsyncIterator[Page]:
    async with open_page(browser, sandbox, 1440, 900) as opened:
        yield opened


@needs_browser
async def test_the_page_runs_a_workflow_step_and_shows_how_it_ended(
    sandbox: Sandbox, page: Page
) -> None:
    # Victor is a viewer: the step fails at once, saying why
    await page.select_option("#user", VIC)
    await page.click("#step-run")
    runs = page.locator("#step-runs .step-run")
    await expect(runs.first).to_contain_text("failed", timeout=15_000)
    await expect(runs.first).to_contain_text("you are not a requester in any organization")

    # Alice's step waits for an approval; Bob approves on the card; the step completes
    await page.select_option("#user", ALICE)
    await page.click("#step-run")
    await expect(runs).to_have_count(2)
    await expect(runs.first).to_contain_text("running")
    await expect(runs.first).to_contain_text(re.compile(r"request #\d+: its card waits"))
    # a workflow named the requester, so two approvers decide: Bob, then Carol
    await page.select_option("#user", BOB)
    await page.click(f'#channels li[data-channel="{APPROVALS}"]')
    card = page.locator("#timeline .card")
    await card.locator('button[data-action-id="sfvopi_approve"]').click()
    await page.click("#view-submit")
    await expect(card).to_contain_text("1 of 2", timeout=15_000)
    await page.select_option("#user", CAROL)
    await page.click(f'#channels li[data-channel="{APPROVALS}"]')
    await card.locator('button[data-action-id="sfvopi_approve"]').click()
    await page.click("#view-submit")
    await expect(runs.first).to_contain_text("completed", timeout=15_000)
    await expect(runs.first).to_contain_text("final_state: succeeded")
    await expect(runs.first).to_contain_text(f"{NUMBER} on {APP}: done")
