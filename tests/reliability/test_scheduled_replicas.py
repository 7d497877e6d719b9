"""Two replicas on one PostgreSQL and a restart in between: a request held for its change
window runs once when the window opens.

Two `sfvopi-bot serve` processes share a fresh database, sweeping every 0.2 s. acme's unlinks
are frozen for the next twelve hours. Requests are filed at one replica and approved at the
other: each is held (scheduled), nothing called. Then replica B is killed with SIGKILL, the
org file is changed so the freeze ends a few seconds from now, B starts again on it and A is
told by SIGHUP: both decide again, and when the freeze ends both sweepers race to claim each
held request. Then: every number was unlinked once at the API (the emulator counts), each
request was claimed once and succeeded, and its requester was told the outcome once.

The moment the freeze ends is written to the file only after every request is held, so a slow
machine makes the test slower, never wrong: whichever replica's sweep (or start) finds the
window open claims it, and the claim is one conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.emulator import ACME_KEY
from tests.support.orgs import ORGS_YAML, write_orgs
from tests.support.processes import bot_env, start_bot_process, swept, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET
from tests.support.slack_user import APPROVALS, confirm

REQUESTS = 4


def frozen_until(end: float) -> str:
    """acme's unlinks frozen from an hour ago until `end`."""

    def shown(epoch: float) -> str:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")

    freeze = (
        f"{{name: change freeze, from: '{shown(time.time() - 3600)}', to: '{shown(end)}', tz: UTC}}"
    )
    return ORGS_YAML.replace(
        "      unlink: {approvals: 1}\n",
        f"      unlink: {{approvals: 1, freezes: [{freeze}]}}\n",
        1,
    )


def app(i: int) -> str:
    return f"sfv_app_window{i:04d}"


def number(i: int) -> str:
    return f"+9180000077{i:02d}"


def card_ts(slack: SlackStandin, request_id: int) -> str | None:
    pattern = re.compile(rf"request #{request_id}\b")
    found = [m.ts for m in slack.messages(APPROVALS) if pattern.search(m.text)]
    return found[0] if found else None


async def test_a_request_held_for_its_window_runs_once_across_replicas_and_a_restart(
    replica_database: str, slack: SlackStandin, emulator: Emulator, tmp_path: Path
) -> None:
    for i in range(REQUESTS):
        emulator.add_app(ACME_KEY, app(i), (number(i),))
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        replica_database,
        frozen_until(time.time() + 12 * 3600),
        SFVOPI_LEASE_SECONDS="2",
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.2",
    )
    a = await start_bot_process("replica-a", env, tmp_path)
    b = await start_bot_process("replica-b", env, tmp_path)
    replicas = [a, b]
    store = Store(replica_database)
    try:
        await asyncio.gather(a.ready(), b.ready())
        await store.start()
        filed: list[int] = []
        for i in range(REQUESTS):
            first, second = replicas[i % 2], replicas[1 - i % 2]
            slack.configure(first.url, SLACK_SIGNING_SECRET)
            asked = await slack.command(
                "U0ALICE", f"unlink {number(i)} {app(i)} cleanup CHG-{i}", channel="C0OPS"
            )
            assert asked.ephemeral is not None, asked
            match = re.search(r"Request \*#(\d+)\*", asked.ephemeral.text)
            assert match, asked.ephemeral.text
            request_id = int(match.group(1))
            await wait_until(
                lambda request_id=request_id: card_ts(slack, request_id) is not None,  # type: ignore[misc]
                what="the card",
            )
            slack.configure(second.url, SLACK_SIGNING_SECRET)
            ts = card_ts(slack, request_id)
            assert ts is not None
            clicked = await slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")
            assert clicked.status == 200
            submitted = await confirm(slack, "U0BOB", timeout=30)
            assert submitted.status == 200
            filed.append(request_id)

        async def statuses() -> set[Status]:
            found = [await store.get(r) for r in filed]
            return {r.status for r in found if r is not None}

        deadline = time.monotonic() + 60
        while await statuses() != {Status.SCHEDULED}:
            assert time.monotonic() < deadline, f"not every request held: {await statuses()}"
            await asyncio.sleep(0.1)
        assert not emulator.writes

        await b.kill9()
        write_orgs(tmp_path, frozen_until(time.time() + 4))
        b = await start_bot_process("replica-b2", env, tmp_path)
        replicas = [a, b]
        a.proc.send_signal(signal.SIGHUP)
        await b.ready()
        await wait_until(lambda: "reloaded (" in a.output(), what="replica A's reload")

        deadline = time.monotonic() + 60
        while await statuses() != {Status.SUCCEEDED}:
            assert time.monotonic() < deadline, f"not every request ran: {await statuses()}"
            await asyncio.sleep(0.1)
        await wait_until(
            lambda: sum(1 for m in slack.dms("U0ALICE") if ":calendar:" not in m.text) >= REQUESTS,
            timeout=60,
            what="every requester's notice",
        )
        await swept(replicas)  # more sweeps on both: nothing runs or is told twice

        notices = [m.text for m in slack.dms("U0ALICE") if ":calendar:" not in m.text]
        for i, request_id in enumerate(filed):
            where = f"request #{request_id}"
            assert emulator.effective[("unlink", app(i), number(i))] == 1, where
            kinds = [e.kind for e in await store.events(request_id)]
            assert kinds.count("scheduled") == 1, (where, kinds)
            assert kinds.count("claimed") == 1, (where, kinds)
            assert kinds.count("succeeded") == 1, (where, kinds)
            told = sum(1 for t in notices if re.search(rf"#{request_id}\b", t))
            assert told == 1, (where, notices)
    finally:
        await store.close()
        for replica in replicas:
            await replica.stop()
