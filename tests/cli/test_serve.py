"""The real `sfvopi-bot serve` as a process: it starts from the environment alone, answers
/healthz and signed Slack requests, stops cleanly on SIGTERM, and refuses a bad configuration
with exit code 1 and one line on stderr naming the problem.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.orgs import ORGS_YAML, write_orgs
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import confirm

REPO = Path(__file__).resolve().parents[2]
APPROVALS = "C0APPROVALS"
UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"
START_TIMEOUT = 60.0  # liveness, not speed: 17 migrations on a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(tmp_path: Path, org_env: dict[str, str], **settings: str) -> dict[str, str]:
    """A clean environment for the bot: none of the caller's Slack or SFVoPI settings leak in.

    The process runs in `tmp_path`, so no `.env` file of a developer's is read either.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SFVOPI_")) and key != "PORT"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env |= org_env
    env |= {
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "SFVOPI_BASE_URL": "http://127.0.0.1:9/sfvopi",
        "SFVOPI_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "SFVOPI_ORGS_FILE": str(write_orgs(tmp_path, ORGS_YAML)),
        "SFVOPI_HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    env |= settings
    return env


# -- a running bot -------------------------------------------------------------------------


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    port: int
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


async def wait_healthy(bot: ServeProcess) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while True:
            if bot.process.returncode is not None:
                raise AssertionError(f"serve exited {bot.process.returncode}:\n{bot.log()}")
            try:
                async with http.get(f"{bot.url}/healthz") as response:
                    if response.status == 200:
                        assert (await response.json()) == {"ok": True}
                        return
            except aiohttp.ClientConnectionError:
                pass
            if loop.time() > deadline:
                raise AssertionError(f"/healthz never answered 200:\n{bot.log()}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def serve_process(
    tmp_path: Path, org_env: dict[str, str], slack: SlackStandin, emulator: Emulator
) -> AsyncIterator[ServeProcess]:
    env = bot_env(
        tmp_path,
        org_env,
        SLACK_API_URL=slack.api_url,
        SFVOPI_BASE_URL=emulator.base_url,
        SFVOPI_API_TIMEOUT_SECONDS="2",
    )
    stderr = tmp_path / "serve.log"
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    bot = ServeProcess(process, int(env["PORT"]), stderr)
    try:
        await wait_healthy(bot)
        slack.configure(f"{bot.url}/slack/events", SLACK_SIGNING_SECRET)
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def card_ts(slack: SlackStandin, request_id: int) -> str | None:
    for message in slack.messages(APPROVALS):
        if f"request #{request_id}" in message.text:
            return message.ts
    return None


async def test_serve_answers_slack_and_stops_on_sigterm(
    serve_process: ServeProcess, slack: SlackStandin, emulator: Emulator
) -> None:
    result = await slack.command("U0ALICE", UNLINK)
    assert result.ok, (result, serve_process.log())
    assert result.ephemeral is not None
    assert "waiting for 1 approval in <#C0APPROVALS>" in result.ephemeral.text
    match = re.search(r"#(\d+)", result.ephemeral.text)
    assert match, result.ephemeral.text
    request_id = int(match.group(1))

    ts = await slack.wait_for(lambda: card_ts(slack, request_id), timeout=10)
    card = slack.message(APPROVALS, ts)
    assert card is not None
    assert card.action_ids() == ["sfvopi_approve", "sfvopi_deny", "sfvopi_cancel"]

    clicked = await slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")
    assert clicked.ok, (clicked, serve_process.log())
    assert (await confirm(slack, "U0BOB")).closed, serve_process.log()
    await slack.wait_for(lambda: slack.messages("C0OPSLOG"), timeout=10)
    final = slack.message(APPROVALS, ts)
    assert final is not None and final.action_ids() in ([], ["sfvopi_undo"])
    assert emulator.effective[("unlink", "sfv_app_abc123xyz456", "+918000000001")] == 1

    serve_process.process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(serve_process.process.wait(), timeout=10)
    assert code == 0, serve_process.log()
    assert "Traceback" not in serve_process.log()
    assert "will be ignored" not in serve_process.log(), "Bolt's misleading token warning"


# -- start-up failures ---------------------------------------------------------------------


def run_serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    return lines[0]


def test_a_missing_signing_secret_stops_start_up(tmp_path: Path, org_env: dict[str, str]) -> None:
    env = bot_env(tmp_path, org_env)
    del env["SLACK_SIGNING_SECRET"]
    done = run_serve(tmp_path, env)
    assert done.returncode == 1
    assert "SLACK_SIGNING_SECRET" in one_line(done.stderr)
    assert not (tmp_path / "bot.db").exists(), "a refused start must not create the database"


def test_a_broken_org_file_stops_start_up(tmp_path: Path, org_env: dict[str, str]) -> None:
    env = bot_env(tmp_path, org_env)
    Path(env["SFVOPI_ORGS_FILE"]).write_text("organizations:\n  acme: [\n", encoding="utf-8")
    done = run_serve(tmp_path, env)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "orgs.yml" in line and "YAML" in line


def test_a_bad_port_stops_start_up(tmp_path: Path, org_env: dict[str, str]) -> None:
    done = run_serve(tmp_path, bot_env(tmp_path, org_env, PORT="abc"))
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "PORT" in line and "integer" in line
    assert "abc" not in line  # settings errors never echo a value (it could be a secret)
