"""Two replicas sweeping one PostgreSQL: each reminder and each escalation is sent once.

Two `sfvopi-bot serve` processes share a fresh database, their sweepers every 0.2 s with a
short lease. Requests are filed through the store as if half an hour ago, so on the first
sweeps both replicas find the reminder and then the escalation due at once and race to
claim them. Then: in every card's thread one reminder and one escalation, one post per
request in the escalation channel, one reminder DM per approver per request, and one
`reminded` and one `escalated` event each. A last request filed after the others are done
proves the sweepers went on sweeping (and found nothing more to send) in between.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.core.models import Action, NewRequest, Target
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.orgs import ORGS_YAML
from tests.support.processes import bot_env, start_bot_process, wait_until

APPROVALS = "C0APPROVALS"
SECOPS = "C0SECOPS"
APPROVERS = ("U0BOB", "U0CAROL", "U0DAVE")
REQUESTS = 8
REMINDING = ORGS_YAML.replace(
    "      ttl_minutes: 60\n",
    "      ttl_minutes: 60\n"
    "      remind_after_minutes: 10\n"
    "      escalate_after_minutes: 30\n"
    f"      escalate_to: [S0ONCALL, {SECOPS}, U0CTO]\n",
    1,
)


def thread_of(slack: SlackStandin, request_id: int) -> list[str]:
    for message in slack.messages(APPROVALS):
        if f"request #{request_id}" in message.text:
            return [m.text for m in slack.thread(APPROVALS, message.ts)]
    return []


def steps_in(slack: SlackStandin, request_id: int) -> tuple[int, int]:
    texts = thread_of(slack, request_id)
    return (
        sum(1 for t in texts if t.startswith(":bell:")),
        sum(1 for t in texts if t.startswith(":rotating_light:")),
    )


def mentioning(texts: list[str], request_id: int) -> int:
    return sum(1 for t in texts if f"equest #{request_id} " in t)


async def file_long_ago(store: Store, i: int) -> int:
    """A pending request filed 31 minutes ago: its reminder and its escalation are both due."""
    now = time.time()
    request, created = await store.create_request(
        NewRequest(
            org="acme",
            action=Action.UNLINK,
            requester="U0ALICE",
            reason=f"waiting since long ago {i}",
            targets=[Target(f"sfv_app_rem{i:03d}", f"+9180004{i:05d}")],
            now=now - 31 * 60,
            expires_at=now + 15 * 60,
        ),
        approvals_needed=1,
    )
    assert created
    return request.id


async def test_two_replicas_remind_and_escalate_once(
    replica_database: str, slack: SlackStandin, emulator: Emulator, tmp_path: Path
) -> None:
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        replica_database,
        REMINDING,
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
        filed = [await file_long_ago(store, i) for i in range(REQUESTS)]
        await wait_until(
            lambda: all(steps_in(slack, r) == (1, 1) for r in filed),
            timeout=60,
            what="a reminder and an escalation in every card's thread",
        )
        await wait_until(
            lambda: all(mentioning([m.text for m in slack.dms("U0CTO")], r) for r in filed),
            timeout=30,
            what="every escalation's last post",
        )
        last = await file_long_ago(store, REQUESTS)
        await wait_until(
            lambda: (
                steps_in(slack, last) == (1, 1)
                and mentioning([m.text for m in slack.dms("U0CTO")], last) == 1
            ),
            timeout=60,
            what="the last request's reminder and escalation",
        )

        for request_id in [*filed, last]:
            where = f"request #{request_id}"
            assert steps_in(slack, request_id) == (1, 1), where
            escalations = [m.text for m in slack.messages(SECOPS)]
            assert mentioning(escalations, request_id) == 1, where
            assert mentioning([m.text for m in slack.dms("U0CTO")], request_id) == 1, where
            for approver in APPROVERS:
                reminders = [m.text for m in slack.dms(approver)]
                assert mentioning(reminders, request_id) == 1, (where, approver)
            kinds = [e.kind for e in await store.events(request_id)]
            assert kinds.count("reminded") == 1, where
            assert kinds.count("escalated") == 1, where
    finally:
        await store.close()
        for replica in replicas:
            await replica.stop()
