"""kill -9 the real bot while it undoes a delete, restart it, and check no second app appears.

`sfvopi-bot serve` runs as a subprocess on a SQLite file, driven through the Slack stand-in:
`/sfvopi delete`, two approvals, then `/sfvopi undo N` and its approval. The first process
dies by a failpoint (bot/core/failpoints.py) right after the create call answered, before its
app id is recorded (`after_create`), or right after recording it, before any number is linked
(`after_new_app_recorded`). A second process on the same database takes the undo over once
the lease lapses. Afterwards: the undo succeeded, SFVoPI holds exactly one app with the
deleted app's name, created once, with its numbers linked to it.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pytest

from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import Message, SlackStandin
from bot.store import Store
from tests.support.processes import BotProcess, bot_env, start_bot_process, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET
from tests.support.slack_user import confirm
from tests.support.undo import ACME_KEY

APPROVALS = "C0APPROVALS"
APP = "sfv_app_def789ghi012"
NUMBERS = ["+918000000003", "+918000000004"]
LEASE = 1.5


def card(slack: SlackStandin, request_id: int) -> Message | None:
    pattern = re.compile(rf"— request #{request_id}\b")
    found = [m for m in slack.messages(APPROVALS) if pattern.search(m.text)]
    return found[-1] if found else None


async def filed(slack: SlackStandin, text: str) -> int:
    asked = await slack.command("U0ALICE", text)
    assert asked.status == 200 and asked.ephemeral is not None, asked
    match = re.search(r"#(\d+)", asked.ephemeral.text)
    assert match, asked.ephemeral.text
    return int(match.group(1))


async def approve(slack: SlackStandin, request_id: int, *approvers: str) -> None:
    await wait_until(lambda: card(slack, request_id) is not None, what=f"#{request_id}'s card")
    shown = card(slack, request_id)
    assert shown is not None
    for approver in approvers:
        clicked = await slack.click(approver, APPROVALS, shown.ts, "sfvopi_approve")
        assert clicked.status == 200
        await confirm(slack, approver)  # the bot's own form


async def final(store: Store, request_id: int, timeout: float = 30.0) -> Status:
    """The request's state once final (polled, with a generous deadline)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        request = await store.get(request_id)
        if request is not None and request.status.final:
            return request.status
        assert asyncio.get_running_loop().time() < deadline, request
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("failpoint", ["after_create", "after_new_app_recorded"])
async def test_kill9_while_recreating_an_app_creates_it_once(
    failpoint: str,
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
) -> None:
    name = emulator.app(ACME_KEY, APP)["name"]
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        database,
        orgs_yaml,
        SFVOPI_LEASE_SECONDS=str(LEASE),
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.3",
    )
    first = await start_bot_process("first", env | {"SFVOPI_FAILPOINT": failpoint}, tmp_path)
    second: BotProcess | None = None
    store = Store(database)
    try:
        await first.ready()
        slack.configure(first.url, SLACK_SIGNING_SECRET)
        deleted = await filed(slack, f"delete {APP} retired, INC-4411")
        await approve(slack, deleted, "U0BOB", "U0CAROL")
        assert await final(store, deleted) is Status.SUCCEEDED
        assert APP not in emulator.apps(ACME_KEY)

        undo = await filed(slack, f"undo {deleted} it is still in use")
        await approve(slack, undo, "U0BOB")
        assert await first.died() == -signal.SIGKILL
        assert len([a for a in emulator.apps(ACME_KEY) if a != APP]) >= 1

        second = await start_bot_process("second", env, tmp_path)
        await second.ready()
        slack.configure(second.url, SLACK_SIGNING_SECRET)
        assert await final(store, undo) is Status.SUCCEEDED

        done = await store.get(undo)
        assert done is not None
        apps = [a for a in emulator.apps(ACME_KEY) if emulator.app(ACME_KEY, a)["name"] == name]
        assert apps == [done.targets[0].new_app_id]
        assert sum(n for (kind, *_), n in emulator.effective.items() if kind == "create") == 1
        assert emulator.snapshot()["acme"][apps[0]] == NUMBERS
        kinds = [e.kind for e in await store.events(undo)]
        assert kinds.count("recreated") == 1 and kinds.count("reclaimed") == 1
        assert [e.kind for e in await store.events(deleted)].count("undone") == 1
    finally:
        await first.kill9()
        if second is not None:
            await second.stop()
        await store.close()
