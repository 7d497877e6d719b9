"""The store's audit reads under concurrent writers: a sink's cursor never passes an event that
commits later, and each request's chain stays one line (no fork), on SQLite and PostgreSQL.

Without the visibility horizon (bot/store/audit.py), a reader polling like this one missed about
a third of the events on PostgreSQL: ids are taken at insert and seen at commit."""

from __future__ import annotations

import asyncio

from bot.audit.verify import verify
from bot.core.models import Action, NewRequest, Target
from bot.store import Store
from tests.support.database import StoreFactory
from tests.support.processes import wait_until

WRITERS, EACH = 10, 12


async def write(store: Store, writer: int) -> None:
    for i in range(EACH):
        request, _ = await store.create_request(
            NewRequest(
                org="acme",
                action=Action.DELETE,
                requester="U0ALICE",
                reason=f"writer {writer}",
                targets=[Target(f"sfv_app_w{writer:02d}x{i:03d}")],
                now=1.0,
                expires_at=1e10,
            ),
            approvals_needed=1,
        )
        await store.approve(request.id, approver="U0BOB", now=2.0, lease_seconds=30)


async def test_a_cursor_read_during_concurrent_writes_passes_no_event(
    store_factory: StoreFactory,
) -> None:
    stores = [await store_factory.open(), await store_factory.open()]
    seen: list[int] = []
    cursor = (0, 0)
    writing = True

    async def read() -> None:
        nonlocal cursor
        while writing:
            batch = await stores[0].sink_batch(cursor, 1000)
            seen.extend(e.link.seq for e in batch)
            if batch:
                cursor = (batch[-1].link.txid, batch[-1].link.seq)
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(stores[w % 2], w) for w in range(WRITERS)))
    stored = [link.seq for link in await stores[1].chain_links(limit=10_000)]
    # the rest, once transactions elsewhere on the server that began before them have ended
    try:
        await wait_until(lambda: len(seen) >= len(stored), timeout=60, what="every event")
    finally:
        writing = False
        await reader

    assert len(stored) == WRITERS * EACH * 3  # requested, approved, claimed
    assert sorted(seen) == sorted(stored)  # every event once: none passed, none twice
    verdict = await verify(stores[1])
    assert verdict.intact, verdict.breaks[:3]
    assert verdict.requests == WRITERS * EACH
