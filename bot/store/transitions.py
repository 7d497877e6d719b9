"""The workflow's transitions, which rule out a double execution: approvals counted once,
claims and leases, and the final states.

Every transition is one conditional UPDATE plus its event row in one transaction (a final
state with its announcement owed, bot/store/outbox.py); a claim is a token with a lease, so a
crashed worker's execution can be taken over but never run twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.deliveries import AT_ONCE, Kind
from bot.core.models import Outcome, Request, Status, Target
from bot.core.ports import ApprovalRecord
from bot.core.preview import Purpose
from bot.core.scheduling import Wait
from bot.errors import LostClaim
from bot.store.conditions import conditional
from bot.store.outbox import owe
from bot.store.scheduled_hold import Holding
from bot.store.schema import approvals_t, request_previews_t, requests_t, targets_t
from bot.store.undo_facts import undone_event

__all__ = ["Transitions"]

_BOUND = select(func.coalesce(func.max(request_previews_t.c.seq), 0)).where(
    request_previews_t.c.request_id == bindparam("id"),
    request_previews_t.c.purpose.in_([p.value for p in Purpose if p.binds]),
)  # the newest preview an approval is given on


class Transitions(Holding):
    """What the workflow needs to move a request (bot.core.ports.RequestStore)."""

    # -- transitions ----------------------------------------------------------------------

    async def _left_pending(self, request_id: int) -> ApprovalRecord | None:
        """The refusal of a click on a request that has left pending (read without a lock)."""
        async with self._read() as conn:
            status = (
                await conn.execute(select(requests_t.c.status).where(requests_t.c.id == request_id))
            ).scalar()
            if status is None or status == Status.PENDING.value:
                return None
            return ApprovalRecord(await self._load(conn, request_id), False, None, Status(status))

    async def approve(
        self,
        request_id: int,
        *,
        approver: str,
        now: float,
        lease_seconds: float,
        eligible: Collection[str] | None = None,
        needed: int = 0,
        note: str | None = None,
        quorum: Callable[[Sequence[str]], bool] | None = None,
        seen: int | None = None,
        wait: Wait | None = None,
    ) -> ApprovalRecord:
        """Counts one approver once; the click that completes the quorum alone wins the claim.

        The quorum counts only approvals by `eligible` people (those who hold the role under
        the org file in force now) and needs the larger of what the request was filed with
        and `needed` (what the policy says now), and `quorum` to hold of them (the teams a
        policy rule requires): all decided inside this transaction. With `seen`, nothing is
        written (`stale`) unless it is the seq of the newest binding preview (0: none), read
        under the request's row lock, which a drift and a preview's insert also take. With
        `wait` (its change window not open yet), the quorum schedules it instead of claiming.

        A request no longer pending never goes back, so a click on one is answered from a
        plain read, without queueing for the row lock the execution's lease renewals need."""
        left = await self._left_pending(request_id)
        if left is not None:
            return left
        async with self._write() as conn:
            row = (
                await conn.execute(
                    select(
                        requests_t.c.status, requests_t.c.approvals_needed, requests_t.c.expires_at
                    )
                    .where(requests_t.c.id == request_id)
                    .with_for_update()
                )
            ).first()
            if row is None:
                raise LookupError(request_id)
            if row.status == Status.PENDING.value and now >= row.expires_at:
                await conn.execute(
                    update(requests_t)
                    .where(requests_t.c.id == request_id)
                    .values(status=Status.EXPIRED.value, decided_by="bot", finished_at=now)
                )
                await self._release(conn, request_id)
                expired = await self._moved(
                    conn, request_id, now, "bot", "expired", None, Kind.ANNOUNCED
                )
                return ApprovalRecord(expired, False, None, Status.EXPIRED)
            if row.status != Status.PENDING.value:
                return ApprovalRecord(
                    await self._load(conn, request_id), False, None, Status(row.status)
                )
            if seen and seen != (await conn.execute(_BOUND, {"id": request_id})).scalar():
                return ApprovalRecord(await self._load(conn, request_id), False, None, stale=True)
            inserted = await conn.execute(
                self._insert(approvals_t)
                .values(request_id=request_id, approver=approver, at=now, note=note or None)
                .on_conflict_do_nothing()
            )
            counted = inserted.rowcount == 1
            claim: str | None = None
            if counted:
                await self._event(
                    conn, request_id, now, approver, "approved", {"note": note} if note else None
                )
                if eligible is not None:
                    await self._withdraw_ineligible(conn, request_id, eligible, now)
                approvers = (
                    await conn.execute(
                        select(approvals_t.c.approver).where(approvals_t.c.request_id == request_id)
                    )
                ).scalars()
                approving = [a for a in approvers if eligible is None or a in eligible]
                have = len(approving)
                if needed > row.approvals_needed:
                    await conn.execute(
                        update(requests_t)
                        .where(requests_t.c.id == request_id)
                        .values(approvals_needed=needed)
                    )
                    await self._event(
                        conn, request_id, now, "bot", "policy_raised", {"approvals_needed": needed}
                    )
                met = have >= max(row.approvals_needed, needed)
                if met and (quorum is None or quorum(approving)):
                    if wait is not None and wait.run_at > now:
                        await self._hold(conn, request_id, approver, wait, now)
                    else:
                        claim = await self._claim(
                            conn, request_id, Status.PENDING, now, lease_seconds
                        )
                    if claim is not None:
                        await conn.execute(
                            update(requests_t)
                            .where(requests_t.c.id == request_id)
                            .values(decided_by=approver)
                        )
            return ApprovalRecord(await self._load(conn, request_id), counted, claim)

    async def _withdraw_ineligible(
        self, conn: AsyncConnection, request_id: int, eligible: Collection[str], now: float
    ) -> None:
        """Approvals by people who no longer hold the role are withdrawn, each with its event,
        so neither the quorum nor the card nor the outcome line counts them."""
        stale = [
            a
            for a in (
                await conn.execute(
                    select(approvals_t.c.approver).where(approvals_t.c.request_id == request_id)
                )
            ).scalars()
            if a not in eligible
        ]
        for approver in stale:
            await conn.execute(
                delete(approvals_t).where(
                    and_(approvals_t.c.request_id == request_id, approvals_t.c.approver == approver)
                )
            )
            await self._event(
                conn,
                request_id,
                now,
                "bot",
                "approval_withdrawn",
                {"approver": approver, "reason": "no longer an approver in the org file in force"},
            )

    async def _claim(
        self,
        conn: AsyncConnection,
        request_id: int,
        expected: Status,
        now: float,
        lease_seconds: float,
        old_token: str | None = None,
    ) -> str | None:
        """Moves the request to executing with a fresh token, only if it is still as expected."""
        token = uuid.uuid4().hex
        conditions = [requests_t.c.id == request_id, requests_t.c.status == expected.value]
        if old_token is not None:
            conditions += [requests_t.c.claim_token == old_token, requests_t.c.lease_until < now]
        result = await conn.execute(
            conditional(requests_t, *conditions).values(
                status=Status.EXECUTING.value,
                claim_token=token,
                lease_until=now + lease_seconds,
                executions=requests_t.c.executions + 1,
            )
        )
        if result.rowcount != 1:
            return None
        if expected is Status.PENDING:
            await self._release(conn, request_id)
        kind = "claimed" if old_token is None else "reclaimed"
        await self._event(conn, request_id, now, "bot", kind, {"lease_seconds": lease_seconds})
        return token

    async def transition(
        self,
        request_id: int,
        *,
        to: Status,
        actor: str,
        now: float,
        kind: str,
        detail: dict[str, object] | None = None,
        source: Status = Status.PENDING,
    ) -> Request | None:
        """pending (or scheduled: `source`) → denied / cancelled / expired; None when the
        request was no longer as `source` says."""
        async with self._write() as conn:
            result = await conn.execute(
                conditional(
                    requests_t,
                    requests_t.c.id == request_id,
                    requests_t.c.status == source.value,
                ).values(
                    status=to.value,
                    decided_by=actor,
                    finished_at=now,
                    decision_note=_note(detail),
                )
            )
            if result.rowcount != 1:
                return None
            await self._release(conn, request_id)
            return await self._moved(conn, request_id, now, actor, kind, detail, Kind.ANNOUNCED)

    async def due_for_expiry(self, now: float) -> list[int]:
        """Candidates only: `transition` decides, so a request approved meanwhile stays put."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(requests_t.c.id).where(
                    and_(
                        requests_t.c.status == Status.PENDING.value,
                        requests_t.c.expires_at <= now,
                    )
                )
            )
            return list(rows.scalars())

    async def pending_by_org(self) -> dict[str, tuple[int, float]]:
        """Per org: how many requests wait for a decision, and when the oldest was filed
        (one aggregate read, for the metrics the sweeper refreshes)."""
        query = (
            select(requests_t.c.org, func.count(), func.min(requests_t.c.created_at))
            .where(requests_t.c.status == Status.PENDING.value)
            .group_by(requests_t.c.org)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {str(org): (int(count), float(oldest)) for org, count, oldest in rows}

    async def stale_executions(self, now: float) -> list[tuple[int, str]]:
        """Executions whose worker stopped renewing its lease (it crashed), with their tokens."""
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(requests_t.c.id, requests_t.c.claim_token).where(
                        and_(
                            requests_t.c.status == Status.EXECUTING.value,
                            requests_t.c.lease_until < now,
                        )
                    )
                )
            ).all()
        return [(request_id, old) for request_id, old in rows]

    async def reclaim(
        self, request_id: int, old_token: str, now: float, lease_seconds: float
    ) -> str | None:
        """Takes over one stale execution, if its lease (under `old_token`) is still lapsed."""
        async with self._write() as conn:
            return await self._claim(
                conn, request_id, Status.EXECUTING, now, lease_seconds, old_token=old_token
            )

    async def renew(self, request_id: int, claim: str, until: float) -> None:
        """Extends a running execution's lease; LostClaim if another worker took it over."""
        async with self._write() as conn:
            await self._held(conn, request_id, claim, lease_until=until)

    async def _held(
        self, conn: AsyncConnection, request_id: int, claim: str, **values: object
    ) -> None:
        """Writes `values` to an executing request only while `claim` still holds it, else
        LostClaim: another worker took the execution over."""
        result = await conn.execute(
            conditional(
                requests_t,
                requests_t.c.id == request_id,
                requests_t.c.claim_token == claim,
                requests_t.c.status == Status.EXECUTING.value,
            ).values(**values)
        )
        if result.rowcount != 1:
            raise LostClaim(request_id)

    async def start_target(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> bool:
        """Marks a target as sent before the call; returns whether an earlier try was sent."""
        async with self._write() as conn:
            await self._held(conn, request_id, claim, lease_until=lease_until)
            earlier = (
                await conn.execute(select(targets_t.c.started_at).where(_target(request_id, idx)))
            ).scalar()
            await conn.execute(
                update(targets_t).where(_target(request_id, idx)).values(started_at=now)
            )
            return earlier is not None

    async def record_target(
        self,
        request_id: int,
        idx: int,
        claim: str,
        *,
        outcome: Outcome,
        status_code: int | None,
        message: str,
        attempts: int,
        now: float,
        lease_until: float,
    ) -> None:
        """Keeps the first outcome of a target: a retried write after a crash cannot change it."""
        async with self._write() as conn:
            await self._held(conn, request_id, claim, lease_until=lease_until)
            await conn.execute(
                conditional(
                    targets_t, _target(request_id, idx), targets_t.c.outcome.is_(None)
                ).values(
                    outcome=outcome.value,
                    status_code=status_code,
                    message=message,
                    attempts=targets_t.c.attempts + attempts,
                    finished_at=now,
                )
            )
            target = (
                await conn.execute(
                    select(targets_t.c.app_id, targets_t.c.number).where(_target(request_id, idx))
                )
            ).one()
            await self._event(
                conn,
                request_id,
                now,
                "sfvopi",
                "api_result",
                {
                    "target": str(Target(target.app_id, target.number)),
                    "outcome": outcome.value,
                    "status_code": status_code,
                    "message": message,
                    "attempts": attempts,
                },
            )

    async def finish(self, request_id: int, claim: str, *, status: Status, now: float) -> Request:
        """Ends an execution; only the worker holding the claim may, else LostClaim."""
        async with self._write() as conn:
            await self._held(
                conn, request_id, claim, status=status.value, finished_at=now, lease_until=None
            )
            await self._executed_event(conn, request_id, now)
            await undone_event(conn, self._event, request_id, status, now)
            return await self._moved(
                conn, request_id, now, "bot", status.value, None, Kind.ANNOUNCED
            )

    async def _moved(
        self,
        conn: AsyncConnection,
        request_id: int,
        now: float,
        actor: str,
        kind: str,
        detail: dict[str, object] | None,
        owed: Kind,
    ) -> Request:
        """What follows a transition's conditional UPDATE in its transaction: its event, the
        Slack delivery it makes owed at once, and the request as it now stands."""
        await self._event(conn, request_id, now, actor, kind, detail)
        await owe(conn, self._insert, request_id, [(owed, AT_ONCE)])
        return await self._load(conn, request_id)

    async def _executed_event(self, conn: AsyncConnection, request_id: int, now: float) -> None:
        """For a break-glass request that finished: `executed`, each target's result, so the
        log shows at one glance what one person's decision did."""
        glass = (
            await conn.execute(
                select(requests_t.c.break_glass).where(requests_t.c.id == request_id)
            )
        ).scalar()
        if not glass:
            return
        rows = await conn.execute(
            select(targets_t.c.app_id, targets_t.c.number, targets_t.c.outcome)
            .where(targets_t.c.request_id == request_id)
            .order_by(targets_t.c.idx)
        )
        results = [{"target": str(Target(r.app_id, r.number)), "outcome": r.outcome} for r in rows]
        await self._event(conn, request_id, now, "bot", "executed", {"targets": results})


def _target(request_id: int, idx: int) -> ColumnElement[bool]:
    """One target's row."""
    return and_(targets_t.c.request_id == request_id, targets_t.c.idx == idx)


def _note(detail: dict[str, object] | None) -> str | None:
    """The reason a decision carries (a deny's note, why the bot cancelled), if any."""
    for key in ("note", "reason"):
        value = (detail or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None
