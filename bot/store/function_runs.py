"""Workflow Builder steps waiting for their request to end: what completing one needs, kept
in the store so that any replica, after any restart, completes it, and only one, once.

Completing calls Slack outside the transaction, so a lease (as for cards, bot/store/outbox.py)
keeps two replicas from completing the same step at once, and a crashed completer's lease
lapses for another to take over. The execution's bot token is kept only until the step is
completed; it is never part of an event row, so the audit log and its export never hold it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update

from bot.core.models import Status
from bot.store.conditions import conditional, lapsed
from bot.store.database import Database
from bot.store.rows import from_row
from bot.store.schema import function_runs_t, requests_t

__all__ = ["FunctionRun", "FunctionRuns"]


@dataclass(frozen=True)
class FunctionRun:
    """One step run: the request it filed, or the refusal it met when filing."""

    execution_id: str
    callback_id: str
    request_id: int | None
    error: str | None
    sealed_token: str | None  # the execution's bot token, sealed (bot/slack/sealing.py)
    created_at: float
    attempts: int
    completed_at: float | None
    outcome: str | None


class FunctionRuns(Database):
    """Used by the Slack layer's step completer (bot/slack/workflow_steps.py)."""

    async def add_function_run(
        self, execution_id: str, callback_id: str, sealed_token: str | None, now: float
    ) -> bool:
        """Takes a step run in (insert-if-absent: Slack's redelivery finds it there); the
        token comes sealed, so no SQL log or dump ever holds it in the clear."""
        async with self._write(urgent=True) as conn:
            inserted = await conn.execute(
                self._insert(function_runs_t)
                .values(
                    execution_id=execution_id,
                    callback_id=callback_id,
                    token=sealed_token,
                    created_at=now,
                    attempts=0,
                )
                .on_conflict_do_nothing()
            )
            return bool(inserted.rowcount == 1)

    async def settle_function_run(
        self, execution_id: str, *, request_id: int | None = None, error: str | None = None
    ) -> None:
        """Records what filing did: the request it filed, or why it was refused."""
        async with self._write(urgent=True) as conn:
            await conn.execute(
                conditional(
                    function_runs_t,
                    function_runs_t.c.execution_id == execution_id,
                    function_runs_t.c.request_id.is_(None),
                    function_runs_t.c.error.is_(None),
                ).values(request_id=request_id, error=error)
            )

    async def function_run(self, execution_id: str) -> FunctionRun | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(function_runs_t).where(function_runs_t.c.execution_id == execution_id)
                )
            ).first()
        if row is None:
            return None
        return from_row(
            FunctionRun,
            row,
            sealed_token=row.token,
            created_at=float(row.created_at),
            attempts=int(row.attempts),
        )

    async def function_runs_of(self, request_id: int) -> list[str]:
        """The step runs still waiting on this request."""
        async with self._read() as conn:
            rows = await conn.execute(
                select(function_runs_t.c.execution_id).where(
                    and_(
                        function_runs_t.c.request_id == request_id,
                        function_runs_t.c.completed_at.is_(None),
                    )
                )
            )
            return list(rows.scalars())

    async def function_runs_due(self, now: float, *, filing_grace: float) -> list[str]:
        """Step runs to complete now (their request is final, or filing was refused), and
        runs whose filing never finished (a crash mid-way) older than `filing_grace`; none
        whose completer's lease still runs."""
        final = [s.value for s in Status if s.final]
        async with self._read() as conn:
            rows = await conn.execute(
                select(function_runs_t.c.execution_id)
                .select_from(
                    function_runs_t.outerjoin(
                        requests_t, requests_t.c.id == function_runs_t.c.request_id
                    )
                )
                .where(
                    and_(
                        function_runs_t.c.completed_at.is_(None),
                        lapsed(function_runs_t.c.lease_until, now),
                        or_(
                            function_runs_t.c.error.is_not(None),
                            requests_t.c.status.in_(final),
                            and_(
                                function_runs_t.c.request_id.is_(None),
                                function_runs_t.c.created_at < now - filing_grace,
                            ),
                        ),
                    )
                )
                .order_by(function_runs_t.c.created_at)
                .limit(200)
            )
            return list(rows.scalars())

    async def claim_function_run(self, execution_id: str, now: float, lease_seconds: float) -> bool:
        """One completer per step run, even with several replicas; a crashed one's lease lapses."""
        async with self._write() as conn:
            result = await conn.execute(
                conditional(
                    function_runs_t,
                    function_runs_t.c.execution_id == execution_id,
                    function_runs_t.c.completed_at.is_(None),
                    lapsed(function_runs_t.c.lease_until, now),
                ).values(lease_until=now + lease_seconds)
            )
            return bool(result.rowcount == 1)

    async def function_run_request(self, execution_id: str) -> int | None:
        """The request a run whose filing was cut short filed after all (found by its dedupe
        key), attached to the run; None if it filed nothing."""
        key = dedupe_key(execution_id)
        async with self._write() as conn:
            found = (
                await conn.execute(select(requests_t.c.id).where(requests_t.c.dedupe_key == key))
            ).scalar()
            if found is not None:
                await conn.execute(
                    conditional(
                        function_runs_t,
                        function_runs_t.c.execution_id == execution_id,
                        function_runs_t.c.request_id.is_(None),
                    ).values(request_id=found)
                )
            return None if found is None else int(found)

    async def complete_function_run(
        self, execution_id: str, outcome: str, now: float, detail: dict[str, object]
    ) -> bool:
        """The step was completed (or Slack no longer has it): the token goes, the run leaves
        the queue for good, and its request's event log says so. False if it already had."""
        async with self._write() as conn:
            request_id = (
                await conn.execute(
                    select(function_runs_t.c.request_id).where(
                        function_runs_t.c.execution_id == execution_id
                    )
                )
            ).scalar()
            done = await conn.execute(
                conditional(
                    function_runs_t,
                    function_runs_t.c.execution_id == execution_id,
                    function_runs_t.c.completed_at.is_(None),
                ).values(completed_at=now, outcome=outcome, token=None, lease_until=None)
            )
            if done.rowcount != 1:
                return False
            if request_id is not None:
                await self._event(
                    conn,
                    int(request_id),
                    now,
                    "bot",
                    "step_completed",
                    {"execution": execution_id, "outcome": outcome, **detail},
                )
            return True

    async def note_function_problem(
        self, execution_id: str, problem: str, now: float, retry_in: float
    ) -> int:
        """Slack did not take a completion: counted, and retried once `retry_in` has passed
        (the lease is kept until then). Returns the attempts so far."""
        async with self._write() as conn:
            await conn.execute(
                update(function_runs_t)
                .where(function_runs_t.c.execution_id == execution_id)
                .values(
                    attempts=function_runs_t.c.attempts + 1,
                    problem=problem[:80],
                    lease_until=now + retry_in,
                )
            )
            attempts = (
                await conn.execute(
                    select(function_runs_t.c.attempts).where(
                        function_runs_t.c.execution_id == execution_id
                    )
                )
            ).scalar()
            return int(attempts or 0)


def dedupe_key(execution_id: str) -> str:
    """The request a step run files carries this key, so filing it twice files it once."""
    return f"step:{execution_id}"
