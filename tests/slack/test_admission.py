"""A burst of commands: every one answered either "filed #N" (and it is) or "busy" (and nothing
was filed), never a silent drop and never "busy" for a request that was stored.

The burst runs against the real `sfvopi-bot serve` in a subprocess, signed commands sent at
once over real sockets. How many are shed depends on the machine, so it asserts only the
invariant. The forced cases hold a command inside its handler (its filing waits on the
test) with a tiny budget, so the gate and the late guard each refuse exactly one, whatever the
machine's speed. A database file locked by another writer is answered "busy" within the
budget too, instead of after SQLite's 10 s busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.core.workflow.filing import Filing
from bot.errors import Busy
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import APP_ID, TEAM_DOMAIN, TEAM_ID
from bot.slack.admission import Admission, arrived
from bot.store import Store
from tests.support.bot import RunningBot, SocketBot, start_bot
from tests.support.metrics import scrape
from tests.support.processes import bot_env, start_bot_process, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET

APPROVALS = "C0APPROVALS"
APP = "sfv_app_abc123xyz456"
BURST = 300
SHED = "sfvopi_bot_commands_shed_total"
FILED = re.compile(r"Request \*#(\d+)\*")
BUSY = ":hourglass: Busy:"


def unlink(number: str) -> str:
    return f"unlink {number} {APP} fraud on this DID, INC-4411"


def number(i: int) -> str:
    return f"+9180{i:08d}"


def command_body(i: int) -> bytes:
    """A slash command as Slack sends it (form-encoded), with its own trigger."""
    return urlencode(
        {
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "api_app_id": APP_ID,
            "channel_id": "C0OPS",
            "user_id": "U0ALICE",
            "command": "/sfvopi",
            "text": unlink(number(i)),
            "trigger_id": f"burst.{i}",
        }
    ).encode()


async def send(
    http: aiohttp.ClientSession, slack: SlackStandin, url: str, i: int
) -> tuple[str, float]:
    """One signed command: the text of its ack, and the seconds it took (shown, never
    asserted: the deadline is generous)."""
    body = command_body(i)
    headers = slack.sign(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    timeout = aiohttp.ClientTimeout(total=180)
    started = time.perf_counter()
    async with http.post(url, data=body, headers=headers, timeout=timeout) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["text"]), time.perf_counter() - started


def verdict(text: str) -> int | None:
    """The request number of a "filed" answer, None for "busy"; anything else fails."""
    if text.startswith(BUSY):
        assert "nothing was filed" in text, text
        return None
    match = FILED.search(text)
    assert match, f"neither filed nor busy: {text}"
    return int(match.group(1))


def cards(slack: SlackStandin, request_id: int) -> int:
    pattern = re.compile(rf"request #{request_id}\b")
    return sum(1 for m in slack.messages(APPROVALS) if pattern.search(m.text))


async def stored_targets(store: Store, org: str = "acme") -> dict[str, int]:
    """Every number that waits in a stored request, and that request."""
    found = await store.list_requests(orgs=[org], limit=10 * BURST)
    return {t.target.number or "": r.id for r in found for t in r.targets}


async def test_a_burst_is_answered_filed_or_busy_and_both_are_true(
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    bot_database_url: str,
    tmp_path: Path,
) -> None:
    env = bot_env(tmp_path, slack, emulator, bot_database_url, orgs_yaml)
    process = await start_bot_process("burst", env, tmp_path)
    store = Store(bot_database_url)
    try:
        await process.ready()
        slack.configure(process.url, SLACK_SIGNING_SECRET)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            answers = await asyncio.gather(
                *(send(http, slack, process.url, i) for i in range(BURST))
            )
        verdicts = {i: verdict(text) for i, (text, _) in enumerate(answers)}
        filed = {i: rid for i, rid in verdicts.items() if rid is not None}
        busy = [i for i, rid in verdicts.items() if rid is None]
        assert len(filed) + len(busy) == BURST
        assert len(set(filed.values())) == len(filed)  # one request per command

        stored = await stored_targets(store)
        assert {number(i): rid for i, rid in filed.items()} == stored
        assert not any(number(i) in stored for i in busy)

        await wait_until(
            lambda: all(cards(slack, rid) >= 1 for rid in filed.values()),
            timeout=120,
            what="a card for every filed request",
        )
        assert all(cards(slack, rid) == 1 for rid in filed.values())
        assert len(slack.messages(APPROVALS)) == len(filed)

        metrics = await scrape(f"http://127.0.0.1:{process.port}/metrics")
        assert metrics.value(SHED, door="http") == len(busy)
        took = sorted(seconds for _, seconds in answers)
        print(
            f"\n{BURST} commands: {len(filed)} filed, {len(busy)} busy; ack p50 "
            f"{took[BURST // 2]:.2f} s, max {took[-1]:.2f} s"
        )
    finally:
        await process.stop()
        await store.close()


def hold_filing(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Makes a command's filing wait for the test inside its handler: (entered, release)."""
    entered, release = asyncio.Event(), asyncio.Event()
    file = Filing.file

    async def held(filing: Filing, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await file(filing, **kwargs)

    monkeypatch.setattr(Filing, "file", held)  # the workflow each command files through
    return entered, release


def shed(running: RunningBot | SocketBot, door: str, stage: str) -> float:
    value = running.services.metrics.registry.get_sample_value(SHED, {"door": door, "stage": stage})
    return value or 0.0


@pytest.fixture
async def tight_bot(
    bot_settings: Settings, bot_database_url: str, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    """The in-process bot on either database, with a budget no command can meet."""
    settings = bot_settings.model_copy(
        update={"database_url": bot_database_url, "command_budget_seconds": 1e-9}
    )
    running = await start_bot(settings, orgs, slack)
    yield running
    await running.stop()


async def test_the_gate_and_the_late_guard_refuse_before_anything_is_filed(
    tight_bot: RunningBot, slack: SlackStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tight_bot.services.store
    entered, release = hold_filing(monkeypatch)
    first = asyncio.create_task(slack.command("U0ALICE", unlink(number(1))))
    await wait_until(entered.is_set, what="the first command inside its handler")

    # one command in hand and no time left: the next is refused at once, at the gate
    second = await slack.command("U0ALICE", unlink(number(2)))
    assert second.ephemeral is not None and second.ephemeral.text.startswith(BUSY)
    assert shed(tight_bot, "http", "gate") == 1

    # the first was admitted, but its budget is spent by the time it would be written
    release.set()
    answered = await first
    assert answered.ephemeral is not None and answered.ephemeral.text.startswith(BUSY)
    assert shed(tight_bot, "http", "late") == 1
    await tight_bot.settle()
    assert await stored_targets(store) == {}
    assert slack.messages(APPROVALS) == []

    # help is never refused; and with time to spare the same command is filed, once
    helped = await slack.command("U0ALICE", "help")
    assert helped.ephemeral is not None and not helped.ephemeral.text.startswith(BUSY)
    tight_bot.services.admission.budget = 30.0  # time to spare, even on a loaded machine
    filed = await slack.command("U0ALICE", unlink(number(1)))
    assert filed.ephemeral is not None
    request_id = verdict(filed.ephemeral.text)
    assert request_id is not None
    await tight_bot.settle()
    assert await stored_targets(store) == {number(1): request_id}
    assert cards(slack, request_id) == 1
    assert shed(tight_bot, "http", "gate") + shed(tight_bot, "http", "late") == 2


async def test_socket_mode_says_busy_and_files_nothing(
    socket_bot: SocketBot, slack: SlackStandin
) -> None:
    socket_bot.services.admission.budget = 1e-9
    answered = await slack.command("U0ALICE", unlink(number(3)))
    assert answered.ephemeral is not None, answered
    assert answered.ephemeral.text.startswith(BUSY)
    assert "nothing was filed" in answered.ephemeral.text
    await socket_bot.settle()
    assert await stored_targets(socket_bot.services.store) == {}
    assert slack.messages(APPROVALS) == []
    assert shed(socket_bot, "socket_mode", "late") == 1


async def test_a_database_locked_by_another_writer_is_answered_busy_in_time(
    bot: RunningBot, bot_settings: Settings, slack: SlackStandin
) -> None:
    other = sqlite3.connect(bot_settings.database_url.removeprefix("sqlite:///"), timeout=30)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # another writer's lock, held past Slack's patience
    try:
        started = time.perf_counter()
        answered = await slack.command("U0ALICE", unlink(number(4)))
        took = time.perf_counter() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert took < 2.9, took  # Slack gives up at 3 s: the promise, not a speed measurement
    assert answered.ephemeral is not None, answered
    assert (
        answered.ephemeral.text.startswith(BUSY) and "nothing was filed" in answered.ephemeral.text
    )
    assert shed(bot, "http", "locked") == 1
    await bot.settle()
    assert await stored_targets(bot.services.store) == {}

    # the lock let go: the same command files, once
    filed = await slack.command("U0ALICE", unlink(number(4)))
    assert filed.ephemeral is not None
    request_id = verdict(filed.ephemeral.text)
    assert request_id is not None
    await bot.settle()
    assert await stored_targets(bot.services.store) == {number(4): request_id}
    assert cards(slack, request_id) == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_with_nothing_in_hand_a_command_is_tried_whatever_the_estimate() -> None:
    clock = FakeClock()
    gate = Admission(2.0, clock=clock)
    gate.estimate = 60.0  # a stale estimate from one stuck command
    with gate.admitted():
        clock.now += 0.01
        with pytest.raises(Busy) as refused, gate.admitted():
            pass
        assert refused.value.stage == "gate"
    assert gate.in_hand == 0
    with gate.admitted():  # alone again: tried, and its cost pulls the estimate down
        clock.now += 0.01
    assert gate.estimate < 60.0


def test_overlapping_commands_cost_the_time_between_their_ends() -> None:
    """Ten commands in hand at any time, one arriving and one finishing every 30 ms, each
    lasting 300 ms: the bot spends 30 ms per command, which is what the estimate learns (their
    durations would say ten times that, and shed nine commands in ten for nothing)."""
    clock = FakeClock()
    gate = Admission(2.0, clock=clock)
    held: list[contextlib.AbstractContextManager[None]] = []

    def overlap() -> None:
        for _ in range(60):
            clock.now += 0.03
            if len(held) == 10:
                held.pop(0).__exit__(None, None, None)
            entered = gate.admitted()
            entered.__enter__()
            held.append(entered)

    # entered and left out of order, as overlapping tasks do: in a context of its own, or the
    # commands still "in hand" would leak into every later test's bot
    contextvars.copy_context().run(overlap)
    assert gate.in_hand == 10
    assert gate.estimate == pytest.approx(0.03, rel=0.01)


def test_the_late_guard_does_nothing_outside_a_command() -> None:
    clock = FakeClock()
    gate = Admission(1e-9, clock=clock)
    with arrived("http", clock.now - 10):
        gate.check()  # e.g. work a command's ack started, or the HTTP API
        with gate.admitted(), pytest.raises(Busy) as refused:
            gate.check()
    assert refused.value.stage == "late"
