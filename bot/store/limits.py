"""The policy's limits counted where a request is filed: inside the insert's transaction, with
the org's filings serialised (PostgreSQL: an advisory lock per org held to commit; SQLite:
BEGIN IMMEDIATE already lets one writer in at a time), so two replicas filing at once never
both take the last slot."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.limits import Counting, Filed, LimitCheck
from bot.errors import OverLimit
from bot.store.schema import requests_t, targets_t

__all__ = ["within_limits"]

log = logging.getLogger(__name__)

LIMITS_LOCK_ID = 0x5F0_0B1C  # the advisory locks' first key; the second is the org's hash

_FILED = (
    select(requests_t.c.created_at, func.count(targets_t.c.idx))
    .join_from(requests_t, targets_t, targets_t.c.request_id == requests_t.c.id)
    .where(
        requests_t.c.org == bindparam("org"),
        requests_t.c.created_at > bindparam("since"),
        requests_t.c.id != bindparam("id"),
    )
    .group_by(requests_t.c.id, requests_t.c.created_at)
)
_BY_REQUESTER = _FILED.where(requests_t.c.requester == bindparam("requester"))
_LOCK_ORG = select(func.pg_advisory_xact_lock(LIMITS_LOCK_ID, func.hashtext(bindparam("org"))))


async def within_limits(
    conn: AsyncConnection, *, sqlite: bool, org: str, request_id: int, check: LimitCheck
) -> list[dict[str, object]]:
    """What the `requested` event of `request_id` (just inserted) records of the limits;
    OverLimit (the caller's transaction rolls back) when one would be passed. Every request
    of the org filed in the window counts, whatever its state, but this one."""
    if not sqlite:
        await conn.execute(_LOCK_ORG, {"org": org})
    found: list[list[Filed]] = []
    for counting in check.countings():
        rows = await conn.execute(_query(counting), _params(counting, org, request_id))
        found.append([Filed(float(at), int(count)) for at, count in rows])
    try:
        return check.judge(found)
    except OverLimit as over:  # a warning: a stolen account's flood shows in the log
        log.warning("a limit refused a request by %s in %s: %s", check.requester, org, over)
        raise


def _query(counting: Counting) -> Any:
    query = _FILED if counting.requester is None else _BY_REQUESTER
    if counting.actions:
        query = query.where(requests_t.c.action.in_([a.value for a in counting.actions]))
    return query


def _params(counting: Counting, org: str, request_id: int) -> dict[str, object]:
    params: dict[str, object] = {"org": org, "since": counting.since, "id": request_id}
    if counting.requester is not None:
        params["requester"] = counting.requester
    return params
