"""examples/incident_bot.py, run as a subprocess against a real bot: it files, waits while a
person approves in Slack, and prints each target's outcome; a refusal is printed and exits 2;
its token never shows in its output."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.api import API_TOKENS
from tests.support.bot import RunningBot
from tests.support.emulator import ACME_KEY
from tests.support.slack_user import APPROVALS, click

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "incident_bot.py"


async def run_example(bot: RunningBot, token: str, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "SFVOPI_API_TOKEN": token}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--url",
        bot.url.removesuffix("/slack/events"),
        "--timeout",
        "120",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_the_example_files_waits_for_a_person_and_prints_the_outcome(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    process = await run_example(
        bot,
        API_TOKENS["incident-bot"],
        "unlink",
        "--app",
        "sfv_app_abc123xyz456",
        "--number",
        "+918000000001",
        "--number",
        "+918000000002",
        "--reason",
        "INC-4411: fraud on these DIDs",
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert first.decode().startswith("filed request #1: pending")
    await slack.wait_for(lambda: slack.messages(APPROVALS), timeout=30)
    await click(slack, bot, "U0BOB", 1, "approve")
    rest, errors = await asyncio.wait_for(process.communicate(), timeout=90)
    out = first.decode() + rest.decode()
    assert process.returncode == 0, (out, errors.decode())
    assert "request #1 succeeded" in out
    assert "+918000000001 on sfv_app_abc123xyz456: done (API 200)" in out
    assert "+918000000002 on sfv_app_abc123xyz456: done (API 200)" in out
    assert not emulator.numbers(ACME_KEY, "sfv_app_abc123xyz456") & {
        "+918000000001",
        "+918000000002",
    }
    assert API_TOKENS["incident-bot"] not in out + errors.decode()


async def test_the_example_prints_a_refusal_and_exits_2(bot: RunningBot) -> None:
    wrong = "test-api-token-unknown-not-real-0000099"
    process = await run_example(
        bot, wrong, "delete", "--app", "sfv_app_def789ghi012", "--reason", "CHG-1207"
    )
    out, errors = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2, errors.decode()
    assert out.decode().startswith("refused (401): this token is not a client's of this bot")
    assert wrong not in out.decode() + errors.decode()

    viewer = await run_example(
        bot, API_TOKENS["dashboard"], "delete", "--app", "sfv_app_def789ghi012", "--reason", "x"
    )
    out, _errors = await asyncio.wait_for(viewer.communicate(), timeout=60)
    assert viewer.returncode == 2 and "you need requester" in out.decode()
