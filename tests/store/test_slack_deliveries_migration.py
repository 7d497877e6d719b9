"""Migration 0014 carries over what the old progress columns said was owed and not yet made,
so an upgrade in the middle of a reminder or a review neither loses nor repeats a post."""

from __future__ import annotations

import time
from typing import Any

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.core.deliveries import Kind
from bot.store.engine import make_engine
from bot.store.migrate import alembic_config
from tests.support.database import StoreFactory

NOW = time.time()
COLUMNS = [
    "id",
    "status",
    "break_glass",
    "reminder_step",
    "reminder_done",
    "reminder_sent",
    "review",
    "review_escalation",
    "review_sent",
    "review_told",
    "announced",
    "notified_at",
]
REQUESTS = [
    # a reminder half-posted (the thread went out), an escalation not taken yet
    (1, "pending", 0, 1, 0, '["thread"]', None, 0, None, 0, 0, None),
    # nothing taken yet
    (2, "pending", 0, 0, 0, None, None, 0, None, 0, 0, None),
    # a break-glass review escalation half-posted
    (3, "succeeded", 1, 0, 0, None, "pending", 1, '["thread"]', 0, 7, 9.0),
    # a review given, told in the thread only
    (4, "succeeded", 1, 0, 0, None, "acknowledged", 2, "[]", 2, 7, 9.0),
    # a review escalated and told in full: nothing owed
    (5, "succeeded", 1, 0, 0, None, "flagged", 2, "[]", 8, 7, 9.0),
    # an outcome told in the thread only
    (6, "denied", 0, 0, 0, None, None, 0, None, 0, 1, None),
]
INSERT = text(
    "INSERT INTO requests (id, status, break_glass, reminder_step, reminder_done, reminder_sent,"
    " review, review_escalation, review_sent, review_told, announced, notified_at, org, action,"
    " requester, reason, approvals_needed, created_at, expires_at, executions, review_due_at,"
    " card_channel, card_ts) VALUES (:id, :status, :break_glass, :reminder_step,"
    " :reminder_done, :reminder_sent, :review, :review_escalation, :review_sent, :review_told,"
    " :announced, :notified_at, 'acme', 'unlink', 'U0ALICE', 'r', 1, :created, :expires, 0,"
    " :created, 'C0APPROVALS', '1.2')"
)


def at_0013(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0013")
    for values in REQUESTS:
        connection.execute(
            INSERT,
            {
                **dict(zip(COLUMNS, values, strict=True)),
                "created": NOW - 1800,
                # the migration reads the real clock: still pending then, however long after
                # this module was imported the test runs (a slow suite once took 30 minutes)
                "expires": time.time() + 1800,
            },
        )


async def test_progress_in_flight_is_carried_over(blank_store_factory: StoreFactory) -> None:
    options: dict[str, Any] = {}
    if blank_store_factory.kind == "postgres":
        path = {"search_path": blank_store_factory.schema}
        options = {"connect_args": {"server_settings": path}}
    engine = make_engine(blank_store_factory.url, **options)
    async with engine.begin() as conn:
        await conn.run_sync(at_0013)
    await engine.dispose()

    store = await blank_store_factory.open()  # upgrades to head
    owed = {
        r: [(d.kind, d.recipient) for d in await store.deliveries(r, NOW + 3600)]
        for r in range(1, 7)
    }
    assert owed == {
        1: [(Kind.REMINDED, ""), (Kind.ESCALATED, "")],
        2: [(Kind.REMINDED, ""), (Kind.ESCALATED, "")],
        3: [(Kind.REVIEW_ESCALATED, "")],
        4: [(Kind.REVIEW_TOLD, "")],
        5: [],
        6: [(Kind.ANNOUNCED, "")],
    }
    # the posts already made are kept as done: expanding the step again skips them
    (step, _) = await store.deliveries(1, NOW + 3600)
    assert await store.claim_delivery(step, NOW, 30)
    assert await store.expand_delivery(step, ["thread", "dm:U0BOB"], NOW, {})
    assert [d.recipient for d in await store.deliveries(1, NOW + 3600)] == ["dm:U0BOB", ""]
    assert "reminded" not in [e.kind for e in await store.events(1)]  # claimed before
    (step,) = await store.deliveries(6, NOW + 3600)
    assert await store.claim_delivery(step, NOW + 3600, 30)
    assert await store.expand_delivery(step, ["thread", "outcome"], NOW + 3600, {})
    assert [d.recipient for d in await store.deliveries(6, NOW + 3600)] == ["outcome"]
    glass = await store.get(5)
    assert glass is not None and glass.review_escalated
    async with store.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {x["name"] for x in inspect(c).get_columns("requests")}
        )
    assert not columns & {"announced", "notify_lease_until", "reminder_step", "review_told"}
