"""Two replicas of the real bot undo a delete once: one app recreated, its numbers linked back.

Two `sfvopi-bot serve` processes share a fresh PostgreSQL database. A delete is approved by
two approvers, each submitting the form on both replicas at the same instant; then its undo
(filed on the other replica) is approved the same way by both approvers on both replicas, so
the clicks that could complete the undo's quorum race across processes. Afterwards SFVoPI
holds exactly one app with the deleted app's name, created once, with its numbers linked to
it; each request ran once and was told once, and nothing more happens on later sweeps.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp

from bot.core.models import Request, Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.emulator import ACME_KEY
from tests.support.processes import BotProcess, bot_env, swept
from tests.support.replicas import file_command, serving, shown, submit_at

APP = "sfv_app_def789ghi012"
NUMBERS = ["+918000000003", "+918000000004"]
APPROVERS = ("U0BOB", "U0CAROL")
LEASE = 2.0


async def final(store: Store, request_id: int, timeout: float = 60.0) -> Request:
    """The request once final and told (polled: liveness, not speed)."""
    deadline = time.monotonic() + timeout
    while True:
        request = await store.get(request_id)
        if request is not None and request.status.final and request.notified_at is not None:
            return request
        assert time.monotonic() < deadline, request
        await asyncio.sleep(0.1)


async def approved_everywhere(
    slack: SlackStandin, replicas: list[BotProcess], request_id: int, seen: int
) -> None:
    """Each approver submits the Approve form on every replica at once."""
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(
                submit_at(http, slack, r, user, request_id, "sfvopi_approve", seen=seen)
                for user in APPROVERS
                for r in replicas
            )
        )
    assert set(statuses) == {200}, statuses


def creates(emulator: Emulator) -> int:
    return sum(n for (kind, *_), n in emulator.effective.items() if kind == "create")


async def test_two_replicas_undo_a_delete_once(
    replica_database: str,
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
) -> None:
    name = emulator.app(ACME_KEY, APP)["name"]
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        replica_database,
        orgs_yaml,
        SFVOPI_LEASE_SECONDS=str(LEASE),
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.3",
    )
    async with serving(replica_database, env, tmp_path) as (replicas, store):
        deleted = await file_command(slack, replicas[0], f"delete {APP} retired, INC-4411")
        await approved_everywhere(slack, replicas, deleted, await shown(store, deleted))
        assert (await final(store, deleted)).status is Status.SUCCEEDED
        assert APP not in emulator.apps(ACME_KEY)

        undo = await file_command(slack, replicas[1], f"undo {deleted} it is still in use")
        await approved_everywhere(slack, replicas, undo, 0)  # an undo binds to no preview
        done = await final(store, undo)
        assert done.status is Status.SUCCEEDED, done.targets

        # room for a duplicate to show up, were one coming: past every lease taken so far
        await swept(replicas, after=asyncio.get_running_loop().time() + LEASE, passes=2)
        for replica in replicas:
            assert replica.proc.returncode is None, replica.output()

        apps = [a for a in emulator.apps(ACME_KEY) if emulator.app(ACME_KEY, a)["name"] == name]
        assert apps == [done.targets[0].new_app_id]
        assert creates(emulator) == 1
        assert sorted(emulator.snapshot()["acme"][apps[0]]) == NUMBERS
        undo_events = [e.kind for e in await store.events(undo)]
        assert undo_events.count("claimed") == 1 and undo_events.count("recreated") == 1
        assert undo_events.count("announced") == 1
        deleted_events = [e.kind for e in await store.events(deleted)]
        assert deleted_events.count("claimed") == 1 and deleted_events.count("undone") == 1
        lines = [m.text for m in slack.messages("C0OPSLOG")]
        assert sum(1 for t in lines if re.search(rf"#{undo}\b", t)) == 1, lines
