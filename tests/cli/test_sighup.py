"""SIGHUP reloads the organization file in the real `sfvopi-bot serve`: a bad file keeps the
old one in force and says why; a good one is in force at once (a pending request whose
requester was removed is cancelled, its card says why)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.database import fresh_bot_database
from tests.support.orgs import ORGS_YAML, write_orgs
from tests.support.processes import bot_env, start_bot_process, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET

UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"


async def test_sighup_reloads_the_org_file_and_keeps_the_old_one_if_it_is_bad(
    tmp_path: Path, slack: SlackStandin, emulator: Emulator, migrated_sqlite: Path
) -> None:
    database_url = fresh_bot_database(migrated_sqlite, tmp_path / "bot.db")
    env = bot_env(tmp_path, slack, emulator, database_url, ORGS_YAML)
    bot = await start_bot_process("hup", env, tmp_path)
    try:
        await bot.ready()
        slack.configure(bot.url, SLACK_SIGNING_SECRET)
        asked = await slack.command("U0ALICE", UNLINK, channel="C0OPS")
        assert asked.ephemeral is not None, bot.output()
        match = re.search(r"#(\d+)", asked.ephemeral.text)
        assert match
        request_id = int(match.group(1))

        write_orgs(tmp_path, ORGS_YAML.replace("approval_channel: C0APPROVALS", "approval: x"))
        bot.proc.send_signal(signal.SIGHUP)
        await wait_until(lambda: "the old one stays in force" in bot.output(), what="refusal")
        assert "approval_channel is missing" in bot.output()
        still = await slack.command("U0ALICE", "whoami", channel="C0OPS")
        assert still.ephemeral is not None and "requester" in still.ephemeral.text

        write_orgs(tmp_path, ORGS_YAML.replace("      U0ALICE: requester\n", ""))
        bot.proc.send_signal(signal.SIGHUP)
        await wait_until(lambda: "orgs.yml reloaded (" in bot.output(), what="the reload")
        gone = await slack.command("U0ALICE", "whoami", channel="C0OPS")
        assert gone.ephemeral is not None and "not a member" in gone.ephemeral.text
        store = Store(database_url)
        try:
            request = await store.get(request_id)
        finally:
            await store.close()
        assert request is not None and request.status is Status.CANCELLED
        assert "Traceback" not in bot.output()
    finally:
        await bot.kill9()
