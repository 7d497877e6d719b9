"""Pending requests per org and the age of the oldest, as the sweeper reads them from the
store (one aggregate query, on SQLite and PostgreSQL) and a scrape reckons them: an org of
the file with nothing pending shows 0, an org no longer in the file shows as "other", and a
store that fails keeps the last figures."""

from __future__ import annotations

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.models import Action, NewRequest, Status, Target
from bot.observability.metrics import BotMetrics
from bot.store import Store

T0 = 1_700_000_000.0


async def file(store: Store, org: str, at: float, app: str = "sfv_app_abc123xyz456") -> int:
    request, created = await store.create_request(
        NewRequest(
            org=org,
            action=Action.DELETE,
            requester="U0ALICE",
            reason="decommission, CHG-1",
            targets=[Target(app)],
            now=at,
            expires_at=at + 3600,
        ),
        approvals_needed=1,
    )
    assert created
    return request.id


def figures(metrics: BotMetrics) -> dict[tuple[str, str], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, sample.labels["org"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(("sfvopi_bot_pending", "sfvopi_bot_oldest"))
    }


async def test_pending_counts_and_oldest_age_per_org(store: Store) -> None:
    now = [T0 + 600]
    metrics = BotMetrics(["acme", "globex"], clock=lambda: now[0])
    await file(store, "acme", T0)
    await file(store, "acme", T0 + 300, "sfv_app_def789ghi012")
    decided = await file(store, "acme", T0 - 900, "sfv_app_aaa111bbb222")
    await store.transition(decided, to=Status.DENIED, actor="U0BOB", now=T0, kind="denied")
    await file(store, "initech", T0 + 500)  # an org since removed from the file

    await metrics.refresh(store)
    assert figures(metrics) == {
        ("sfvopi_bot_pending_requests", "acme"): 2,
        ("sfvopi_bot_pending_requests", "globex"): 0,
        ("sfvopi_bot_pending_requests", "other"): 1,
        ("sfvopi_bot_oldest_pending_age_seconds", "acme"): 600,
        ("sfvopi_bot_oldest_pending_age_seconds", "globex"): 0,
        ("sfvopi_bot_oldest_pending_age_seconds", "other"): 100,
    }
    now[0] += 60  # between sweeps the age grows at each scrape; the count stays
    assert figures(metrics)[("sfvopi_bot_oldest_pending_age_seconds", "acme")] == 660
    assert figures(metrics)[("sfvopi_bot_pending_requests", "acme")] == 2


class FailingStore:
    async def pending_by_org(self) -> dict[str, tuple[int, float]]:
        raise ConnectionError("database unreachable")

    async def outbox(self, now: float) -> tuple[list[int], list[int]]:
        raise AssertionError("not reached")


async def test_a_failing_store_keeps_the_last_figures(store: Store) -> None:
    metrics = BotMetrics(["acme"], clock=lambda: T0 + 10)
    await file(store, "acme", T0)
    await metrics.refresh(store)
    await metrics.refresh(FailingStore())
    assert figures(metrics)[("sfvopi_bot_pending_requests", "acme")] == 1
    assert figures(metrics)[("sfvopi_bot_oldest_pending_age_seconds", "acme")] == 10
