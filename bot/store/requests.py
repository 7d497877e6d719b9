"""Requests: filing them (each target reserved once per org while pending) and reading them.

Their transitions are bot/store/transitions.py's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.limits import LimitCheck, needs_admin
from bot.core.models import (
    STEP_FILED,
    Event,
    NewRequest,
    Request,
    Status,
    Target,
)
from bot.errors import AlreadyPending, KeyReused
from bot.store.database import Database
from bot.store.limits import within_limits
from bot.store.schema import events_t, pending_targets_t, requests_t, targets_t
from bot.store.undo_facts import one_undo_alive

__all__ = ["Requests"]

# Asked before every new request, so built once (database.py); the apps and numbers narrow it
# through ix_targets_app_number, the exact (app, number) pairs are picked out after.
_PENDING_TARGETS = (
    select(targets_t.c.app_id, targets_t.c.number, requests_t.c.id)
    .join(requests_t, requests_t.c.id == targets_t.c.request_id)
    .where(
        and_(
            requests_t.c.org == bindparam("org"),
            requests_t.c.status == Status.PENDING.value,
            targets_t.c.app_id.in_(bindparam("apps", expanding=True)),
            or_(
                targets_t.c.number.in_(bindparam("numbers", expanding=True)),
                targets_t.c.number.is_(None),
            ),
        )
    )
    .order_by(requests_t.c.id)
)
_PENDING_TARGETS_NOT_KEY = _PENDING_TARGETS.where(
    or_(requests_t.c.dedupe_key.is_(None), requests_t.c.dedupe_key != bindparam("not_key"))
)
_INSERT_TARGETS = targets_t.insert()

# Reservations (schema.pending_targets_t): per (org, app, number) of the pending requests
# `where` picks, the oldest one, in key order (so two PostgreSQL writers never deadlock).
_NUMBER_KEY = func.coalesce(targets_t.c.number, "")


def _oldest_pending(where: Any) -> Any:
    return (
        select(requests_t.c.org, targets_t.c.app_id, _NUMBER_KEY, func.min(requests_t.c.id))
        .join_from(targets_t, requests_t, requests_t.c.id == targets_t.c.request_id)
        .where(and_(requests_t.c.status == Status.PENDING.value, where))
        .group_by(requests_t.c.org, targets_t.c.app_id, _NUMBER_KEY)
        .order_by(targets_t.c.app_id, _NUMBER_KEY)
    )


_RESERVED_COLUMNS = ["org", "app_id", "number", "request_id"]
# a new request's own targets
_OWN_TARGETS = _oldest_pending(requests_t.c.id == bindparam("id"))
# after `id` left pending: its apps' targets still named by other pending requests of its org
_REGRANT = _oldest_pending(
    and_(
        requests_t.c.org
        == select(requests_t.c.org).where(requests_t.c.id == bindparam("id")).scalar_subquery(),
        targets_t.c.app_id.in_(
            select(targets_t.c.app_id).where(targets_t.c.request_id == bindparam("id"))
        ),
    )
)
_RELEASE = delete(pending_targets_t).where(pending_targets_t.c.request_id == bindparam("id"))
# who holds the first of `id`'s targets that it could not reserve
_HOLDER = (
    select(pending_targets_t.c.app_id, pending_targets_t.c.number, pending_targets_t.c.request_id)
    .join_from(
        targets_t,
        pending_targets_t,
        and_(
            pending_targets_t.c.app_id == targets_t.c.app_id,
            pending_targets_t.c.number == _NUMBER_KEY,
        ),
    )
    .where(
        and_(
            targets_t.c.request_id == bindparam("id"),
            pending_targets_t.c.org == bindparam("org"),
            pending_targets_t.c.request_id != bindparam("id"),
        )
    )
    .order_by(targets_t.c.idx)
    .limit(1)
)


class Requests(Database):
    """What the workflow needs to file and read requests (bot.core.ports.RequestStore)."""

    # -- creating and reading -------------------------------------------------------------

    async def create_request(
        self,
        new: NewRequest,
        *,
        approvals_needed: int,
        filed_by_step: bool = False,
        limits: LimitCheck | None = None,
    ) -> tuple[Request, bool]:
        """Stores a pending request; the same dedupe key returns the first one, not a second.
        AlreadyPending (nothing stored) when a target waits in another pending request,
        unless `again`: decided by the database's unique key, so two writers cannot both pass.

        Urgent: a slash command's ack waits on this, so it goes ahead of background writes
        (card posts, executions) queued for SQLite's single writer.
        """
        async with self._write(urgent=True) as conn:
            inserted = await self._insert_request(
                conn,
                new,
                {"approvals_needed": approvals_needed, "filed_by_step": int(filed_by_step)},
                limits=limits,
            )
            if isinstance(inserted, Request):
                return inserted, False
        request_id, admin_why = inserted
        pending = new.pending(request_id, approvals_needed, filed_by_step=filed_by_step)
        if admin_why is None:
            return pending, True
        return replace(pending, needs_admin=admin_why, approvals_needed=approvals_needed + 1), True

    async def _insert_request(
        self,
        conn: AsyncConnection,
        new: NewRequest,
        columns: dict[str, Any],
        *,
        limits: LimitCheck | None = None,
    ) -> tuple[int, str | None] | Request:
        """Inserts a pending request (`columns`: those beyond what every new request fills),
        its targets, their reservations and its `requested` event in the caller's
        transaction: its id (and why an admin must approve too, when it is over a limit that
        lets one: one approval more, recorded on the row), or the request already filed under
        the same dedupe key. AlreadyPending when a target is reserved and not `again`;
        OverLimit when a limit would be passed (checked last, so the org's lock is held
        briefly)."""
        targets, again, policy = new.targets, new.again, new.policy
        values = {
            "org": new.org,
            "action": new.action.value,
            "requester": new.requester,
            "reason": new.reason,
            "created_at": new.now,
            "expires_at": new.expires_at,
            "channel_id": new.channel_id,
            "response_url": new.response_url,
            "dedupe_key": new.dedupe_key,
            "undoes": new.undoes,
            "run_after": new.run_after,
            **columns,
        }
        if new.undoes is not None:  # one undo alive per request: Conflict for a second
            await one_undo_alive(conn, new.undoes, new.dedupe_key, is_sqlite=self.is_sqlite)
        insert = self._prepared.get("insert_request")
        if insert is None:
            insert = self._prepared["insert_request"] = (
                self._insert(requests_t)
                .on_conflict_do_nothing(index_elements=[requests_t.c.dedupe_key])
                .returning(requests_t.c.id)
            )
        result = await conn.execute(
            insert, {"status": Status.PENDING.value, "executions": 0, **values}
        )
        inserted = result.scalar()
        if inserted is None:
            existing = (
                await conn.execute(
                    select(requests_t.c.id).where(requests_t.c.dedupe_key == values["dedupe_key"])
                )
            ).scalar_one()
            first = await self._load(conn, existing)
            if not _asks_the_same(first, values, targets):
                raise KeyReused(
                    "this key already filed a different request; nothing was filed: send the "
                    "same request again to get that one, or use a new key"
                )
            return first
        request_id = int(inserted)
        await conn.execute(
            _INSERT_TARGETS,
            [
                {
                    "request_id": request_id,
                    "idx": i,
                    "app_id": t.app_id,
                    "number": t.number,
                    "attempts": 0,
                }
                for i, t in enumerate(targets)
            ],
        )
        await self._reserve(conn, request_id, values["org"], len(set(targets)), again=again)
        detail = _requested(values, targets, policy)
        admin_why = None
        if limits is not None:
            detail["limits"] = recorded = await within_limits(
                conn, sqlite=self.is_sqlite, org=values["org"], request_id=request_id, check=limits
            )
            admin_why = needs_admin(recorded)
        if admin_why is not None:
            detail["needs_admin"] = admin_why
            await conn.execute(
                update(requests_t)
                .where(requests_t.c.id == request_id)
                .values(needs_admin=admin_why, approvals_needed=requests_t.c.approvals_needed + 1)
            )
        await self._event(
            conn,
            request_id,
            values["created_at"],
            values["requester"],
            "requested",
            detail,
            first=True,
        )
        return request_id, admin_why

    async def _reserve(
        self, conn: AsyncConnection, request_id: int, org: str, wanted: int, *, again: bool
    ) -> None:
        """Reserves the new request's targets (those free: `again` shares the rest); unless
        `again`, a target reserved already refuses the request, naming its holder. On
        PostgreSQL a reservation not yet committed is waited for, then counts if it landed."""
        statement = self._reservation("own", _OWN_TARGETS)
        while True:
            wanted -= (await conn.execute(statement, {"id": request_id})).rowcount
            if again or wanted <= 0:
                return
            holder = (await conn.execute(_HOLDER, {"id": request_id, "org": org})).first()
            if holder is not None:
                target = Target(holder.app_id, holder.number or None)
                raise AlreadyPending.naming(str(target), holder.request_id)
            # its holder left pending meanwhile (PostgreSQL): the target is free, try again

    async def _release(self, conn: AsyncConnection, request_id: int) -> None:
        """Lets go of the reservations of a request leaving pending, in its transition's
        transaction; another pending request naming the same target (filed `--again`) takes
        it over, so the target still counts as pending. On PostgreSQL one statement: the
        caller holds the request's row lock that every click on it queues for, so each
        round trip more under a loaded event loop is paid by all of them."""
        if not self.is_sqlite:
            await conn.execute(self._handover(), {"id": request_id})
            return
        released = await conn.execute(_RELEASE, {"id": request_id})
        if released.rowcount:
            await conn.execute(self._reservation("regrant", _REGRANT), {"id": request_id})

    def _handover(self) -> Any:
        """WITH gone AS (DELETE ... RETURNING) INSERT the heirs of what was deleted."""
        statement = self._prepared.get("handover")
        if statement is None:
            gone = _RELEASE.returning(
                pending_targets_t.c.org, pending_targets_t.c.app_id, pending_targets_t.c.number
            ).cte("gone")
            heirs = _oldest_pending(
                and_(
                    requests_t.c.id != bindparam("id"),
                    tuple_(requests_t.c.org, targets_t.c.app_id, _NUMBER_KEY).in_(
                        select(gone.c.org, gone.c.app_id, gone.c.number)
                    ),
                )
            )
            statement = self._prepared["handover"] = (
                self._insert(pending_targets_t)
                .from_select(_RESERVED_COLUMNS, heirs)
                .on_conflict_do_nothing()
                .add_cte(gone)
            )
        return statement

    def _reservation(self, name: str, oldest: Any) -> Any:
        """INSERT ... SELECT `oldest` ON CONFLICT DO NOTHING, built once in this dialect."""
        key = f"reserve_{name}"
        statement = self._prepared.get(key)
        if statement is None:
            statement = self._prepared[key] = (
                self._insert(pending_targets_t)
                .from_select(_RESERVED_COLUMNS, oldest)
                .on_conflict_do_nothing()
            )
        return statement

    async def get(self, request_id: int, *, orgs: Collection[str] | None = None) -> Request | None:
        """The request with its targets and approvals; None when there is no such request, or
        (given `orgs`) when it is not of one of them: one query by id either way, and only a
        request of `orgs` is read further."""
        async with self._read() as conn:
            return await self._load_maybe(conn, request_id, orgs)

    async def list_requests(
        self,
        *,
        orgs: Iterable[str],
        statuses: Iterable[Status] | None = None,
        limit: int = 20,
        requester: str | None = None,
    ) -> list[Request]:
        """Newest first, so `history` shows what just happened; `requester`: only theirs."""
        query = select(requests_t.c.id).where(requests_t.c.org.in_(list(orgs)))
        if requester is not None:
            query = query.where(requests_t.c.requester == requester)
        if statuses is not None:
            query = query.where(requests_t.c.status.in_([s.value for s in statuses]))
        query = query.order_by(requests_t.c.id.desc()).limit(limit)
        async with self._read() as conn:
            ids = (await conn.execute(query)).scalars().all()
            return [await self._load(conn, i) for i in ids]

    async def count_requests(self, *, orgs: Iterable[str], statuses: Iterable[Status]) -> int:
        """How many requests of `orgs` are in `statuses`: a list's real size past its cap."""
        query = select(func.count()).where(
            requests_t.c.org.in_(list(orgs)),
            requests_t.c.status.in_([s.value for s in statuses]),
        )
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def pending_with_targets(
        self, org: str, targets: Sequence[Target], *, not_dedupe_key: str | None = None
    ) -> dict[Target, int]:
        """For each of `targets` that a pending request of `org` already names, that request
        (not counting the one filed under `not_dedupe_key`: a replay of the same command)."""
        wanted = set(targets)
        if not wanted:
            return {}
        params = {
            "org": org,
            "apps": sorted({t.app_id for t in wanted}),
            "numbers": sorted({t.number for t in wanted if t.number is not None}),
        }
        query = _PENDING_TARGETS
        if not_dedupe_key is not None:
            query, params["not_key"] = _PENDING_TARGETS_NOT_KEY, not_dedupe_key
        async with self._read() as conn:
            rows = (await conn.execute(query, params)).all()
        found: dict[Target, int] = {}
        for app_id, number, request_id in rows:
            target = Target(app_id, number)
            if target in wanted:
                found.setdefault(target, request_id)
        return found

    async def events(self, request_id: int) -> list[Event]:
        """The audit trail, oldest first (insertion order, not clock order)."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(events_t).where(events_t.c.request_id == request_id).order_by(events_t.c.id)
            )
            return [
                Event(
                    request_id=r.request_id,
                    at=r.at,
                    actor=r.actor,
                    kind=r.kind,
                    detail=json.loads(r.detail),
                )
                for r in rows
            ]


def _requested(
    values: dict[str, Any], targets: Sequence[Target], policy: Mapping[str, object] | None
) -> dict[str, object]:
    """The `requested` event's detail; a step's says its requester is only the workflow's word,
    and the policy rule decision is recorded where the org has rules."""
    detail: dict[str, object] = {
        "action": values["action"],
        "targets": [str(t) for t in targets],
        "reason": values["reason"],
    }
    if values.get("filed_by_step"):
        detail["filed_by"] = STEP_FILED
    if values.get("undoes") is not None:
        detail["undoes"] = values["undoes"]
    if values.get("run_after") is not None:
        detail["run_after"] = values["run_after"]
    if policy is not None:
        detail["policy"] = dict(policy)
    return detail


# a filing's fields a replay of its dedupe key must repeat, besides its action, targets and
# break-glass
_ASKED = ("org", "requester", "reason", "incident", "run_after", "undoes")


def _asks_the_same(first: Request, values: dict[str, Any], targets: Sequence[Target]) -> bool:
    """Whether a replay of a dedupe key asks for what its first filing did (as the workflow
    made it: the reason on one line, the targets once each, in any order, `at` as a moment):
    every field that changes what is filed. `again` (leave to share a target), where answers
    go and which door filed it are not what is filed. Decided in the insert's transaction,
    so of two racing filings under one key exactly one is stored."""
    return (
        all(getattr(first, field) == values.get(field) for field in _ASKED)
        and first.action.value == values["action"]
        and first.break_glass == bool(values.get("break_glass"))
        and {t.target for t in first.targets} == set(targets)
    )
