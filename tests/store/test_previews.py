"""Previews are kept per request in order, each with a `previewed` event carrying its
fingerprint in the same transaction; the newest (of a purpose) reads back whole. Held against
SQLite, PostgreSQL and the memory store; the chain, export and migration on the databases."""

from __future__ import annotations

import asyncio
import json

import pytest
from alembic import command
from sqlalchemy import inspect

from bot.audit.export import record
from bot.audit.verify import verify
from bot.core.models import Action
from bot.core.ports import RequestStore
from bot.core.preview import (
    PREVIEWED,
    AppPreview,
    LinkState,
    NumberPreview,
    Preview,
    PreviewStore,
    Purpose,
)
from bot.errors import RequestNotFound
from bot.sfvopi import AppFields
from bot.store import Store
from bot.store.migrate import alembic_config
from tests.support.database import StoreFactory
from tests.support.filing import APP, NOW, file
from tests.support.memory_store import MemoryFactory

FIELDS = AppFields("Support line", "https://voice.example.com/answer", "POST", None, "POST")


def deleting(*numbers: str) -> Preview:
    """A delete's preview of the app with `numbers` linked."""
    app = AppPreview("sfv_app_abc123xyz456", True, "Support line", "ACTIVE", numbers, FIELDS)
    return Preview(Action.DELETE, apps=(app,))


FILED = deleting("+918000000001", "+918000000002")
DRIFTED = deleting("+918000000001", "+918000000002", "+918000000003")
UNLINK = Preview(
    Action.UNLINK, numbers=(NumberPreview("app_abc123", "+918000000001", LinkState.LINKED),)
)


async def previews_on(factory: StoreFactory | MemoryFactory) -> tuple[RequestStore, PreviewStore]:
    store = await factory.open()
    return store, store


async def test_previews_are_kept_in_order_and_read_back_whole(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store, previews = await previews_on(request_stores)
    request_id = await file(store, [APP])
    assert await previews.latest_preview(request_id) is None
    first = await previews.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    second = await previews.record_preview(
        request_id, Purpose.BEFORE_EXECUTION, DRIFTED, now=NOW + 5
    )
    assert (first.seq, second.seq) == (1, 2)
    latest = await previews.latest_preview(request_id)
    assert latest == second
    assert latest is not None and latest.preview == DRIFTED
    assert latest.preview.pre_images()[0].fields == FIELDS
    filed = await previews.latest_preview(request_id, Purpose.FILED)
    assert filed is not None and filed.preview == FILED and filed.taken_at == NOW
    assert filed.fingerprint == FILED.fingerprint() != DRIFTED.fingerprint()


async def test_each_preview_writes_a_previewed_event_with_its_fingerprint(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    store, previews = await previews_on(request_stores)
    request_id = await file(store)
    await previews.record_preview(request_id, Purpose.FILED, UNLINK, now=NOW)
    quiet = Preview(Action.UNLINK, unreadable="timeout")
    await previews.record_preview(request_id, Purpose.FILED, quiet, now=NOW + 1, event=False)
    events = [e for e in await store.events(request_id) if e.kind == PREVIEWED]
    assert [e.detail for e in events] == [
        {"purpose": "filed", "fingerprint": UNLINK.fingerprint(), "seq": 1, "readable": True}
    ]
    assert events[0].actor == "bot"
    latest = await previews.latest_preview(request_id)
    assert latest is not None and latest.preview.unreadable == "timeout" and latest.seq == 2


async def test_a_preview_of_no_request_is_refused(
    request_stores: StoreFactory | MemoryFactory,
) -> None:
    _, previews = await previews_on(request_stores)
    with pytest.raises(RequestNotFound):
        await previews.record_preview(999, Purpose.FILED, UNLINK, now=NOW)


async def test_previewed_events_keep_the_chain_and_export(store: Store) -> None:
    request_id = await file(store, [APP])
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    await store.record_preview(request_id, Purpose.BEFORE_EXECUTION, DRIFTED, now=NOW + 1)
    verdict = await verify(store)
    assert verdict.intact and verdict.checked == 3
    exported = [record(e) for e in await store.audit_events() if e.link.kind == PREVIEWED]
    assert [e["detail"]["fingerprint"] for e in exported] == [
        FILED.fingerprint(),
        DRIFTED.fingerprint(),
    ]
    assert all(e["decision"] is None and e["request"] == request_id for e in exported)
    json.dumps(exported)


async def test_the_migration_goes_down_and_up_again(store_factory: StoreFactory) -> None:
    store = await store_factory.open()
    request_id = await file(store, [APP])
    await store.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0014"))
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert "request_previews" not in tables
    upgraded = await store_factory.open()  # back at head
    assert await upgraded.latest_preview(request_id) is None
    await upgraded.record_preview(request_id, Purpose.FILED, FILED, now=NOW)
    assert (await upgraded.latest_preview(request_id)) is not None


async def test_two_stores_recording_at_once_take_distinct_turns(
    store_factory: StoreFactory,
) -> None:
    one, two = await store_factory.open(), await store_factory.open()
    request_id = await file(one, [APP])
    stored = await asyncio.gather(
        *(
            s.record_preview(request_id, Purpose.BEFORE_EXECUTION, FILED, now=NOW + i)
            for i, s in enumerate((one, two) * 5)
        )
    )
    assert sorted(p.seq for p in stored) == list(range(1, 11))
    assert (await verify(one)).intact
    latest = await two.latest_preview(request_id)
    assert latest is not None and latest.seq == 10
