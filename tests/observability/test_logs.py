"""The real `sfvopi-bot serve` with SFVOPI_LOG_FORMAT=json, at DEBUG so the libraries log what
they send: every line on stderr is one JSON object with its fields, the lines of a click carry
its request, org and actor, no secret shows even when typed into a reason, and a reason built
to forge a log line forges none (in text format either)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.database import fresh_bot_database
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.processes import BotProcess, bot_env, start_bot_process, wait_until
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from tests.support.slack_user import confirm

APPROVALS = "C0APPROVALS"
TARGETS = "+918000000001 sfv_app_abc123xyz456"
TOKEN_IN_TEXT = "xoxb-2222-3333-NotARealToken"
FORGED = "2099-01-01 00:00:00,000 ERROR bot.forged: approved by root"
REASON = f"fraud\n{FORGED} \x1b[31m{TOKEN_IN_TEXT} {ORG_ENV['SFVOPI_API_KEY_ACME']} INC-1"
SECRETS = (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, TOKEN_IN_TEXT, *ORG_ENV.values())


async def run_one_request(
    log_format: str, tmp_path: Path, slack: SlackStandin, emulator: Emulator, template: Path
) -> BotProcess:
    """A bot process: a request filed with a hostile reason, approved, then SIGTERM."""
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        fresh_bot_database(template, tmp_path / "bot.db"),
        ORGS_YAML,
        SFVOPI_LOG_FORMAT=log_format,
        SFVOPI_LOG_LEVEL="DEBUG",
    )
    bot = await start_bot_process("bot", env, tmp_path)
    try:
        await bot.ready()
        slack.configure(bot.url, SLACK_SIGNING_SECRET)
        asked = await slack.command("U0ALICE", f"unlink {TARGETS} {REASON}")
        assert asked.ephemeral is not None and "#1" in asked.ephemeral.text, asked
        await wait_until(lambda: bool(slack.messages(APPROVALS)), what="the card")
        card = slack.messages(APPROVALS)[0]
        clicked = await slack.click("U0BOB", APPROVALS, card.ts, "sfvopi_approve")
        assert clicked.status == 200
        assert (await confirm(slack, "U0BOB")).closed
        await wait_until(lambda: bool(slack.dms("U0ALICE")), what="the requester told")
    finally:
        await bot.stop()
    assert bot.proc.returncode == 0, bot.output()
    return bot


async def test_every_json_line_parses_carries_its_context_and_hides_secrets(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator, migrated_sqlite: Path
) -> None:
    bot = await run_one_request("json", tmp_path, slack, emulator, migrated_sqlite)
    text = bot.log.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]  # each line is one object

    assert len(lines) > 20
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert line["logger"] != "bot.forged"
    assert any(
        (line.get("request_id"), line.get("org"), line.get("actor")) == ("1", "acme", "U0BOB")
        for line in lines
    ), "no line of the approval carries its request, org and approver"
    assert any(line.get("actor") == "U0ALICE" for line in lines)
    stopping = [line for line in lines if line["message"].startswith("SIGTERM: taking no new")]
    assert stopping and stopping[0]["logger"] == "bot.cli"

    for secret in SECRETS:
        assert secret not in text
    # the reason did reach the logs (the libraries log what they send), redacted
    assert any("[redacted]" in line["message"] and "INC-1" in line["message"] for line in lines)


async def test_text_logs_hide_secrets_and_no_line_is_forged(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator, migrated_sqlite: Path
) -> None:
    bot = await run_one_request("text", tmp_path, slack, emulator, migrated_sqlite)
    text = bot.log.read_text(encoding="utf-8")
    record = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
    for line in text.splitlines():
        assert record.match(line) or line.startswith(("  | ", "sfvopi-bot: ")), line
        assert not line.startswith("2099-") and "\x1b" not in line
    for secret in SECRETS:
        assert secret not in text
    assert "[redacted]" in text and "[request_id=1 org=acme actor=U0BOB]" in text


async def test_an_unknown_log_format_stops_start_up_with_one_line(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator
) -> None:
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        f"sqlite:///{tmp_path / 'bot.db'}",
        ORGS_YAML,
        SFVOPI_LOG_FORMAT="logfmt",
    )
    bot = await start_bot_process("bot", env, tmp_path)
    assert await bot.died() == 1
    assert "sfvopi-bot: bad setting SFVOPI_LOG_FORMAT: expected one of text, json" in bot.output()
    assert not (tmp_path / "bot.db").exists()
