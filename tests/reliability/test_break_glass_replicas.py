"""Two replicas on one PostgreSQL: each break-glass request runs once and its overdue review is
escalated once.

Two `sfvopi-bot serve` processes share a fresh database, their sweepers every 0.2 s with a
short lease. Break-glass commands arrive at either replica, and each is delivered again to
the other one (Slack's retry landing elsewhere). Other break-glass requests are filed through
the store as if their worker had died half an hour ago right after claiming them: both
replicas' sweepers race to take the lapsed execution over, and then to escalate the review
nobody gave. Then: every target reached the API once (the emulator counts), every card was
posted once, and each overdue review was escalated once (one thread post, one channel post,
one `review_escalated` event).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bot.core.models import Action, NewRequest, Target
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.emulator import ACME_KEY
from tests.support.orgs import ORGS_YAML
from tests.support.processes import BotProcess, bot_env, start_bot_process, swept, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET

APPROVALS = "C0APPROVALS"
SECOPS = "C0SECOPS"
COMMANDS = 6
ABANDONED = 6
GLASS = ORGS_YAML.replace(
    "      self_approval: false\n",
    "      self_approval: false\n"
    "      escalate_after_minutes: 45\n"
    f"      escalate_to: [{SECOPS}]\n"
    "      break_glass: {roles: [admin], review_within_minutes: 30}\n",
    1,
)


def app(i: int) -> str:
    return f"sfv_app_glass{i:04d}"


def cards_of(slack: SlackStandin, request_id: int) -> int:
    pattern = re.compile(rf"request #{request_id}\b")
    return sum(1 for m in slack.messages(APPROVALS) if pattern.search(m.text))


def overdue_in(slack: SlackStandin, request_id: int) -> int:
    pattern = re.compile(rf"request #{request_id}\b")
    for message in slack.messages(APPROVALS):
        if pattern.search(message.text):
            texts = [m.text for m in slack.thread(APPROVALS, message.ts)]
            return sum(1 for t in texts if t.startswith(":rotating_light: Review overdue"))
    return 0


async def break_glass_twice(
    slack: SlackStandin, first: BotProcess, second: BotProcess, i: int
) -> int:
    """A break-glass command to one replica, then the same delivery to the other (a retry)."""
    slack.configure(first.url, SLACK_SIGNING_SECRET)
    result = await slack.command("U0DAVE", f"delete {app(i)} --break-glass INC-{i + 1} outage")
    assert result.status == 200 and result.ephemeral is not None, result
    match = re.search(r"Request \*#(\d+)\*", result.ephemeral.text)
    assert match, result.ephemeral.text
    body = urlencode(result.fields).encode()
    headers = slack.sign(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(second.url, data=body, headers=headers) as again,
    ):
        assert again.status == 200
        assert f"Request *#{match.group(1)}*" in await again.text()
    return int(match.group(1))


async def abandoned_long_ago(store: Store, i: int) -> int:
    """Filed and claimed half an hour ago by a worker that died at once: its lease lapsed
    and its review is overdue."""
    now = time.time() - 31 * 60
    request, claim = await store.create_break_glass(
        NewRequest(
            org="acme",
            action=Action.DELETE,
            requester="U0DAVE",
            reason=f"abandoned {i}",
            targets=[Target(app(i))],
            now=now,
            expires_at=now + 3600,
        ),
        incident=f"INC-{i + 1}",
        review_due_at=now + 30 * 60,
        lease_seconds=2,
    )
    assert claim is not None
    return request.id


async def test_two_replicas_run_break_glass_once_and_escalate_its_review_once(
    replica_database: str, slack: SlackStandin, emulator: Emulator, tmp_path: Path
) -> None:
    for i in range(COMMANDS + ABANDONED):
        emulator.add_app(ACME_KEY, app(i))
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        replica_database,
        GLASS,
        SFVOPI_LEASE_SECONDS="2",
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.2",
    )
    replicas = [
        await start_bot_process("replica-a", env, tmp_path),
        await start_bot_process("replica-b", env, tmp_path),
    ]
    store = Store(replica_database)
    try:
        await asyncio.gather(*(r.ready() for r in replicas))
        await store.start()
        filed = [
            await break_glass_twice(slack, replicas[i % 2], replicas[1 - i % 2], i)
            for i in range(COMMANDS)
        ]
        abandoned = [
            await abandoned_long_ago(store, i) for i in range(COMMANDS, COMMANDS + ABANDONED)
        ]
        everything = [*filed, *abandoned]

        async def all_final() -> bool:
            found = [await store.get(r) for r in everything]
            return all(r is not None and r.status.final for r in found)

        deadline = time.monotonic() + 60
        while not await all_final():
            assert time.monotonic() < deadline, "not every break-glass request finished"
            await asyncio.sleep(0.1)
        await wait_until(
            lambda: (
                all(cards_of(slack, r) == 1 for r in everything)
                and all(overdue_in(slack, r) == 1 for r in abandoned)
            ),
            timeout=60,
            what="every card, and an escalation under each abandoned one",
        )
        await swept(replicas)  # a few more sweeps on both replicas: nothing more is sent

        deletes = Counter(c.raw_path for c in emulator.calls if c.method == "DELETE")
        for i in range(COMMANDS + ABANDONED):
            assert deletes[f"/superfone/sfvopi/apps/{app(i)}"] == 1, app(i)
        assert len(filed) == len(set(filed))
        assert len(await store.list_requests(orgs=["acme"], limit=100)) == len(everything)
        escalations = [m.text for m in slack.messages(SECOPS)]
        for request_id in everything:
            where = f"request #{request_id}"
            assert cards_of(slack, request_id) == 1, where
            kinds = [e.kind for e in await store.events(request_id)]
            assert kinds.count("broke_glass") == 1, where
            assert kinds.count("executed") == 1, where
            overdue = 1 if request_id in abandoned else 0
            assert overdue_in(slack, request_id) == overdue, where
            assert kinds.count("review_escalated") == overdue, where
            said = sum(1 for t in escalations if re.search(rf"request #{request_id}\b", t))
            assert said == overdue, where
    finally:
        await store.close()
        for replica in replicas:
            await replica.stop()
