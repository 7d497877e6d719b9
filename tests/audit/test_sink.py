"""The live audit sink: every event reaches the receiver at least once, with no gaps, through a
webhook outage (500s, hangs, the receiver gone), a kill -9 of the bot, and replicas writing and
delivering at once; each delivery's signature verifies; the secret is never written anywhere.

In-process cases run the sink on a real store (SQLite and PostgreSQL) against a real aiohttp
receiver on loopback; process cases run `sfvopi-bot serve` as an operator does and SIGKILL it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import jsonschema
import pydantic
import pytest
from pydantic import SecretStr

from bot.audit.sink import AuditSink, FileDestination, WebhookDestination, destination_for
from bot.audit.verify import verify
from bot.config.settings import Settings, describe_error
from bot.core.models import Action, NewRequest, Status, Target
from bot.errors import AuditSinkError
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from tests.support.audit import Receiver, run_cli
from tests.support.database import StoreFactory, fresh_bot_database
from tests.support.processes import BotProcess, bot_env, start_bot_process, wait_until
from tests.support.slack import SLACK_SIGNING_SECRET
from tests.support.slack_user import APPROVALS, confirm

SECRET = "audit-sink-secret-not-real-7c1b"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "audit-event.schema.json").read_text()
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver(SECRET.encode())
    await running.start()
    yield running
    await running.stop()


async def file_requests(store: Store, count: int, *, first: int = 0) -> None:
    """`count` requests, each approved and run to the end: several events apiece."""
    for i in range(first, first + count):
        now = 1_700_000_000.0 + i
        request, _ = await store.create_request(
            NewRequest(
                org="acme",
                action=Action.DELETE,
                requester="U0ALICE",
                reason=f"audit {i}",
                targets=[Target(f"sfv_app_audit{i:04d}")],
                now=now,
                expires_at=now + 3600,
            ),
            approvals_needed=1,
        )
        record = await store.approve(request.id, approver="U0BOB", now=now + 1, lease_seconds=30)
        assert record.claim is not None
        await store.finish(request.id, record.claim, status=Status.SUCCEEDED, now=now + 2)


async def stored_uids(store: Store) -> set[str]:
    return {link.uid for link in await store.chain_links(limit=1_000_000)}


async def arrived(receiver: Receiver, store: Store, timeout: float = 60.0) -> set[str]:
    """Waits until every event in the database has reached the receiver."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        wanted = await stored_uids(store)
        if wanted <= receiver.event_ids:
            return wanted
        assert loop.time() < deadline, f"{len(wanted - receiver.event_ids)} events never arrived"
        await asyncio.sleep(0.1)


async def caught_up(store: Store, sink: str, timeout: float = 60.0) -> None:
    """Waits until the sink's cursor has passed every event (liveness, not speed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await store.sink_has_more(sink):
        assert loop.time() < deadline, "the sink's cursor never caught up"
        await asyncio.sleep(0.05)


async def test_a_webhook_outage_delays_delivery_but_loses_nothing(
    store_factory: StoreFactory, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.audit.sink")
    store = await store_factory.open()
    webhook = WebhookDestination(receiver.url, SecretStr(SECRET), timeout=0.5)
    sink = AuditSink(store, webhook, interval=0.05, lease_seconds=30, batch=7)
    receiver.status = 500
    task = asyncio.create_task(sink.run())
    try:
        await file_requests(store, 3)
        await wait_until(lambda: receiver.refused >= 2, what="refused deliveries")
        assert receiver.event_ids == set()
        assert await store.sink_cursor(webhook.key) == (0, 0)  # nothing accepted or skipped

        receiver.status, receiver.hang = 200, 1.5  # answers too late: the sink gives up
        await wait_until(lambda: receiver.deliveries >= 1, timeout=30, what="a late answer")
        receiver.hang = 0
        await receiver.stop()  # and now nobody listens at all
        await file_requests(store, 3, first=3)
        await asyncio.sleep(0.5)
        await receiver.start()

        wanted = await arrived(receiver, store)
        # the cursor moves once the receiver has answered: caught up while the sink still runs
        # (cancelled at once, a loaded machine showed the last batch received, not recorded)
        await caught_up(store, webhook.key)
    finally:
        task.cancel()
        await sink.close()

    assert len(wanted) == 6 * 4  # requested, approved, claimed, succeeded per request
    assert receiver.bad_signatures == 0
    assert not await store.sink_has_more(webhook.key)
    assert (await store.sink_cursor(webhook.key))[1] > 0
    logged = caplog.text
    assert "delivery failed: HTTP 500" in logged
    assert "delivery failed: no answer" in logged
    assert SECRET not in logged
    for record in receiver.received:
        jsonschema.validate(record, SCHEMA)


async def test_a_receiver_with_another_secret_gets_nothing_through(
    store_factory: StoreFactory, receiver: Receiver
) -> None:
    """The signature really covers the body under the secret: a receiver holding a different
    secret refuses every batch, and the cursor does not move past what it refused."""
    store = await store_factory.open()
    await file_requests(store, 1)
    sink = AuditSink(
        store, WebhookDestination(receiver.url, SecretStr("another-secret-not-real")), batch=50
    )
    for _ in range(3):
        with pytest.raises(AuditSinkError, match="HTTP 401"):
            # on PostgreSQL an event waits while any older transaction on the cluster still
            # runs (an autoanalyze, another client): until then a pass sends nothing
            for _pass in range(600):
                if await sink.deliver_once():
                    break
                await asyncio.sleep(0.05)
    assert receiver.bad_signatures == 3 and receiver.event_ids == set()
    assert await store.sink_cursor(sink.destination.key) == (0, 0)
    await sink.close()


async def test_replicas_writing_and_delivering_at_once_leave_no_gap(
    store_factory: StoreFactory, receiver: Receiver
) -> None:
    """Two stores (as two replicas) write events concurrently while each runs the sink. Were
    ids committed out of order, a cursor would skip some and the chain would fork; the lease
    lets one replica deliver at a time."""
    stores = [await store_factory.open(), await store_factory.open()]
    sinks = [
        AuditSink(s, WebhookDestination(receiver.url, SecretStr(SECRET)), interval=0.01, batch=3)
        for s in stores
    ]
    tasks = [asyncio.create_task(s.run()) for s in sinks]
    try:
        await asyncio.gather(*(file_requests(stores[i % 2], 5, first=10 * i) for i in range(10)))
        wanted = await arrived(receiver, stores[0])
    finally:
        for task in tasks:
            task.cancel()
        for sink in sinks:
            await sink.close()
    assert len(wanted) == 10 * 5 * 4
    assert receiver.bad_signatures == 0
    verdict = await verify(stores[1])
    assert verdict.intact and verdict.checked == len(wanted), verdict.breaks[:3]


# -- the real bot, killed ---------------------------------------------------------------


def card_ts(slack: SlackStandin, request_id: int) -> str | None:
    pattern = re.compile(rf"request #{request_id}\b")
    found = [m for m in slack.messages(APPROVALS) if pattern.search(m.text)]
    return found[-1].ts if found else None


async def run_one(slack: SlackStandin, store: Store, target: str) -> int:
    """Alice asks, Bob approves on the card; returns once the outcome has been announced."""
    asked = await slack.command("U0ALICE", f"unlink {target} fraud, INC-1")
    assert asked.status == 200 and asked.ephemeral is not None, asked
    match = re.search(r"#(\d+)", asked.ephemeral.text)
    assert match, asked.ephemeral.text
    request_id = int(match.group(1))
    await wait_until(lambda: card_ts(slack, request_id) is not None, what="the card")
    ts = card_ts(slack, request_id)
    assert ts is not None
    assert (await slack.click("U0BOB", APPROVALS, ts, "sfvopi_approve")).status == 200
    assert (await confirm(slack, "U0BOB")).status == 200
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        request = await store.get(request_id)
        if request is not None and request.notified_at is not None:
            return request_id
        assert loop.time() < deadline, "the outcome was never announced"
        await asyncio.sleep(0.1)


async def test_the_bot_delivers_every_event_across_a_kill9_and_an_outage(
    slack: SlackStandin,
    emulator: Emulator,
    orgs_yaml: str,
    tmp_path: Path,
    bot_database_url: str,
    receiver: Receiver,
) -> None:
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        bot_database_url,
        orgs_yaml,
        SFVOPI_AUDIT_SINK=receiver.url,
        SFVOPI_AUDIT_SINK_SECRET=SECRET,
        SFVOPI_AUDIT_SINK_INTERVAL_SECONDS="0.2",
        SFVOPI_LEASE_SECONDS="1.5",
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.3",
    )
    store = Store(bot_database_url)
    first = await start_bot_process("first", env, tmp_path)
    second: BotProcess | None = None
    try:
        await first.ready()
        slack.configure(first.url, SLACK_SIGNING_SECRET)
        receiver.status = 500
        await run_one(slack, store, "+918000000001 sfv_app_abc123xyz456")
        await wait_until(lambda: receiver.refused >= 2, what="refused deliveries")
        receiver.status = 200
        await arrived(receiver, store)  # the outage is over: the backlog arrives

        receiver.status = 500  # down again while more happens, then the bot dies
        await run_one(slack, store, "+918000000002 sfv_app_abc123xyz456")
        undelivered = await stored_uids(store) - receiver.event_ids
        assert undelivered
        await first.kill9()
        assert first.proc.returncode == -signal.SIGKILL
        await receiver.stop()

        second = await start_bot_process("second", env, tmp_path)
        await second.ready()
        slack.configure(second.url, SLACK_SIGNING_SECRET)
        receiver.status = 200
        await receiver.start()
        wanted = await arrived(receiver, store)
        assert undelivered <= receiver.event_ids
        await run_one(slack, store, "+918000000003 sfv_app_abc123xyz456")
        wanted = await arrived(receiver, store)
    finally:
        for process in (first, second):
            if process is not None:
                await process.stop()
        await store.close()

    kinds = {str(r["kind"]) for r in receiver.received}
    assert {"requested", "approved", "api_result", "succeeded", "slack_posted"} <= kinds
    assert {str(r["event_id"]) for r in receiver.received} == wanted
    assert receiver.bad_signatures == 0
    logs = first.output() + (second.output() if second else "")
    assert "audit sink webhook http://127.0.0.1" in logs and "HTTP 500" in logs
    assert SECRET not in logs


async def test_a_file_sink_survives_a_kill9(
    slack: SlackStandin, emulator: Emulator, orgs_yaml: str, tmp_path: Path, migrated_sqlite: Path
) -> None:
    database = fresh_bot_database(migrated_sqlite, tmp_path / "bot.db")
    sink_file = tmp_path / "audit.jsonl"
    env = bot_env(
        tmp_path,
        slack,
        emulator,
        database,
        orgs_yaml,
        SFVOPI_AUDIT_SINK=str(sink_file),
        SFVOPI_AUDIT_SINK_INTERVAL_SECONDS="0.2",
        SFVOPI_LEASE_SECONDS="1.5",
        SFVOPI_SWEEP_INTERVAL_SECONDS="0.3",
    )
    store = Store(database)

    def written() -> set[str]:
        if not sink_file.exists():
            return set()
        lines = sink_file.read_text(encoding="utf-8").splitlines()
        return {json.loads(line)["event_id"] for line in lines}

    first = await start_bot_process("first", env, tmp_path)
    second: BotProcess | None = None
    try:
        await first.ready()
        slack.configure(first.url, SLACK_SIGNING_SECRET)
        await run_one(slack, store, "+918000000001 sfv_app_abc123xyz456")
        await first.kill9()
        second = await start_bot_process("second", env, tmp_path)
        await second.ready()
        slack.configure(second.url, SLACK_SIGNING_SECRET)
        await run_one(slack, store, "+918000000002 sfv_app_abc123xyz456")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not (await stored_uids(store)) <= written():
            assert loop.time() < deadline, "the file never caught up"
            await asyncio.sleep(0.1)
    finally:
        for process in (first, second):
            if process is not None:
                await process.stop()
        await store.close()
    for line in sink_file.read_text(encoding="utf-8").splitlines():
        jsonschema.validate(json.loads(line), SCHEMA)
    # and the same events, field for field, as the export writes them
    exported = await run_cli(["audit", "export"], {"SFVOPI_DATABASE_URL": database}, tmp_path)
    assert exported.code == 0, exported.err
    delivered = {json.loads(line)["event_id"]: line for line in sink_file.read_text().splitlines()}
    for line in exported.out.splitlines():
        assert delivered[json.loads(line)["event_id"]] == line


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "secret", "problem"),
    [
        ("http://audit.example/hook?token=t0ps3cr3t", SECRET, "https:// URL"),
        ("ftp://audit.example/hook?token=t0ps3cr3t", SECRET, "https:// URL"),
        ("https://audit.example/hook?token=t0ps3cr3t", None, "SFVOPI_AUDIT_SINK_SECRET"),
    ],
    ids=["plain_http_elsewhere", "not_http", "unsigned_webhook"],
)
def test_a_sink_that_cannot_be_trusted_stops_start_up(
    value: str, secret: str | None, problem: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(_env_file=None, audit_sink=value, audit_sink_secret=secret)
    said = describe_error(caught.value)
    assert "SFVOPI_AUDIT_SINK" in said and problem in said
    assert "t0ps3cr3t" not in said and SECRET not in said


def test_the_sinks_a_setting_names() -> None:
    webhook = destination_for(
        Settings(
            _env_file=None, audit_sink="https://h.example/a?k=t0ps3cr3t", audit_sink_secret=SECRET
        )
    )
    assert isinstance(webhook, WebhookDestination)
    assert webhook.name == "webhook https://h.example/a"  # what logs show: no query, no secret
    loopback = Settings(_env_file=None, audit_sink="http://127.0.0.1:9/a", audit_sink_secret=SECRET)
    assert isinstance(destination_for(loopback), WebhookDestination)
    assert SECRET not in repr(loopback)
    assert isinstance(
        destination_for(Settings(_env_file=None, audit_sink="a.jsonl")), FileDestination
    )
    assert destination_for(Settings(_env_file=None)) is None
