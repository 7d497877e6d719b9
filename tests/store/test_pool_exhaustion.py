"""PostgreSQL with every pooled connection taken (a burst of commands): a write that gets
none in the pool's time is refused as Busy before anything begins, with words a person can
act on, and nothing is written; the store serves again once a connection is free."""

from __future__ import annotations

import pytest

from bot.core.models import Action, NewRequest, Target
from bot.errors import Busy
from bot.store import Store

NOW = 1_700_000_000.0


def new(number: str) -> NewRequest:
    return NewRequest(
        org="acme",
        action=Action.UNLINK,
        requester="U0ALICE",
        reason="fraud, INC-4411",
        targets=[Target("sfv_app_abc123xyz456", number)],
        now=NOW,
        expires_at=NOW + 3600,
    )


async def test_a_write_with_no_connection_free_is_busy_and_writes_nothing(
    replica_database: str,
) -> None:
    pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.3}
    store = Store(replica_database, engine_options=pool)
    await store.start()
    try:
        taken = await store.engine.connect()  # the only connection, held
        try:
            with pytest.raises(Busy) as refused:
                await store.create_request(new("+918000000001"), approvals_needed=1)
            assert refused.value.stage == "pool"
            assert "nothing was filed or changed" in refused.value.message
            with pytest.raises(Busy):
                await store.get(1)
        finally:
            await taken.close()
        assert await store.list_requests(orgs=["acme"]) == []  # nothing was written
        filed, created = await store.create_request(new("+918000000002"), approvals_needed=1)
        assert created and await store.get(filed.id) is not None
    finally:
        await store.close()
