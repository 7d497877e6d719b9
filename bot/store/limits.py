"""The policy's limits counted where a request is filed: inside the insert's transaction, with
the org's filings serialised (PostgreSQL: an advisory lock per org held to commit; SQLite:
BEGIN IMMEDIATE already lets one writer in at a time), so two replicas filing at once never
both take the last slot: under READ COMMITTED, the count made after the lock sees every
filing committed before it."""

from __future__ import annotations

import functools
import logging
from typing import Any

from sqlalchemy import and_, bindparam, distinct, func, join, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.limits import Counting, Filed, LimitCheck, Used
from bot.core.models import Action
from bot.store.schema import requests_t, targets_t

__all__ = ["within_limits"]

log = logging.getLogger(__name__)

LIMITS_LOCK_ID = 0x5F0_0B1C  # the advisory locks' first key; the second is the org's hash

_WINDOW = and_(
    requests_t.c.org == bindparam("org"),
    requests_t.c.created_at > bindparam("since"),
    requests_t.c.id != bindparam("id"),
)
_JOINED = join(requests_t, targets_t, targets_t.c.request_id == requests_t.c.id)
# how many requests and targets a window holds: one row, whatever its size
_TOTALS = select(func.count(distinct(requests_t.c.id)), func.count(targets_t.c.idx)).select_from(
    _JOINED
)
# each request it holds, with its targets: read only when over, to say when it frees up
_FILED = (
    select(requests_t.c.created_at, func.count(targets_t.c.idx))
    .select_from(_JOINED)
    .group_by(requests_t.c.id, requests_t.c.created_at)
)
_BY_REQUESTER = requests_t.c.requester == bindparam("requester")
_LOCK_ORG = select(func.pg_advisory_xact_lock(LIMITS_LOCK_ID, func.hashtext(bindparam("org"))))


async def within_limits(
    conn: AsyncConnection, *, sqlite: bool, org: str, request_id: int, check: LimitCheck
) -> list[dict[str, object]]:
    """What the `requested` event of `request_id` (just inserted) records of the limits (one
    over but letting an admin approve marked so: core.limits.needs_admin reads it);
    OverLimit (the caller's transaction rolls back) when one would be passed. Every request
    of the org filed in the window counts, whatever its state, but this one."""
    if not sqlite:
        await conn.execute(_LOCK_ORG, {"org": org})
    recorded: list[dict[str, object]] = []
    for counting in check.countings():
        params = _params(counting, org, request_id)
        requests, targets = (await conn.execute(_query(_TOTALS, counting), params)).one()
        entry = check.entry(counting.limit, Used(int(requests), int(targets)))
        if entry is not None:
            recorded.append(entry)
            continue
        rows = await conn.execute(_query(_FILED, counting), params)
        log.warning(
            "a limit refused a request by %s in %s: %s", check.requester, org, counting.limit.label
        )  # a warning: a stolen account's flood shows in the log
        check.refuse(counting.limit, [Filed(float(at), int(count)) for at, count in rows])
    return recorded


def _query(base: Any, counting: Counting) -> Any:
    return _built(base, counting.requester is not None, counting.actions)


@functools.cache
def _built(base: Any, by_requester: bool, actions: tuple[Action, ...]) -> Any:
    """Built once per shape: building a statement costs more than running it (issue 16)."""
    query = base.where(_WINDOW)
    if by_requester:
        query = query.where(_BY_REQUESTER)
    if actions:
        query = query.where(requests_t.c.action.in_([a.value for a in actions]))
    return query


def _params(counting: Counting, org: str, request_id: int) -> dict[str, object]:
    params: dict[str, object] = {"org": org, "since": counting.since, "id": request_id}
    if counting.requester is not None:
        params["requester"] = counting.requester
    return params
