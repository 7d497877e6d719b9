"""kill -9 the real bot while a break-glass request runs, restart it: it runs once, and ends.

`sfvopi-bot serve` on a SQLite file breaks glass for an admin and SIGKILLs itself at a
failpoint (bot/core/failpoints.py): right after the claim (nothing sent yet), or right after
the API answered (sent, result not recorded). A second process on the same database takes
the lapsed lease over, as for an approved request: the target reaches the API once
effectively, the request ends succeeded with one `executed` event, and its card waits for a
review.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from bot.core.models import Outcome, Review, Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.database import fresh_bot_database
from tests.support.orgs import ORGS_YAML
from tests.support.processes import BotProcess, bot_env, start_bot_process, swept, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET

APPROVALS = "C0APPROVALS"
APP, NUMBER = "sfv_app_abc123xyz456", "+918000000001"
BREAK = f"unlink {NUMBER} {APP} --break-glass INC-4411 fraud on this DID"
LEASE = 1.5
GLASS = ORGS_YAML.replace(
    "      self_approval: false\n",
    "      self_approval: false\n      break_glass: {roles: [admin]}\n",
    1,
)


@pytest.mark.parametrize(
    ("failpoint", "outcome", "api_calls"),
    [("after_claim", Outcome.DONE, 1), ("after_api", Outcome.ALREADY_ABSENT, 2)],
)
async def test_kill9_while_breaking_glass_then_restart(
    failpoint: str,
    outcome: Outcome,
    api_calls: int,
    slack: SlackStandin,
    emulator: Emulator,
    tmp_path: Path,
    migrated_sqlite: Path,
) -> None:
    database = fresh_bot_database(migrated_sqlite, tmp_path / "bot.db")
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        database,
        GLASS,
        SFVOPI_LEASE_SECONDS=str(LEASE),
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.3",
    )
    first = await start_bot_process("first", env | {"SFVOPI_FAILPOINT": failpoint}, tmp_path)
    second: BotProcess | None = None
    store = Store(database)
    try:
        await first.ready()
        slack.configure(first.url, SLACK_SIGNING_SECRET)
        asked = await slack.command("U0DAVE", BREAK)
        assert asked.status == 200 and asked.ephemeral is not None, asked
        assert "broke glass" in asked.ephemeral.text
        match = re.search(r"#(\d+)", asked.ephemeral.text)
        assert match, asked.ephemeral.text
        request_id = int(match.group(1))
        assert await first.died() == -signal.SIGKILL
        lapsed = asyncio.get_running_loop().time() + LEASE  # every lease the dead one held
        crashed = await store.get(request_id)
        assert crashed is not None and crashed.status is Status.EXECUTING

        second = await start_bot_process("second", env, tmp_path)
        await second.ready()

        async def finished() -> bool:
            found = await store.get(request_id)
            return found is not None and found.status.final and found.card_ts is not None

        deadline = asyncio.get_running_loop().time() + 30
        while not await finished():
            assert asyncio.get_running_loop().time() < deadline, second.output()
            await asyncio.sleep(0.1)
        await swept([second], after=lapsed)  # room for a second run to show, were one coming

        done = await store.get(request_id)
        assert done is not None
        assert done.status is Status.SUCCEEDED and done.review is Review.PENDING
        assert [t.outcome for t in done.targets] == [outcome]
        assert emulator.effective[("unlink", APP, NUMBER)] == 1
        calls = [c for c in emulator.calls if NUMBER.replace("+", "%2B") in c.raw_path]
        assert len(calls) == api_calls, calls
        kinds = [e.kind for e in await store.events(request_id)]
        assert kinds.count("broke_glass") == 1
        assert kinds.count("executed") == 1
        assert kinds.count("succeeded") == 1
        await wait_until(
            lambda: any(
                m.ts == done.card_ts and "sfvopi_review_ack" in m.action_ids()
                for m in slack.messages(APPROVALS)
            ),
            timeout=15,
            what="the card, finished and waiting for a review",
        )
    finally:
        await first.kill9()
        if second is not None:
            await second.stop()
        await store.close()
