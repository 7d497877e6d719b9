"""An in-memory RequestStore (bot.core.ports), so the workflow's rules are tested without a
database; the contract suite (tests/store/test_request_store_contract.py) holds it to what the
SQL store does. Each method runs without an await inside, so each is atomic, as one SQL
transaction is. A target's holder is not stored but found: the oldest pending request of its
org naming it, which is what bot/store/requests.py's reservations keep true."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from bot.core.deliveries import Kind, posted_with
from bot.core.limits import Filed, LimitCheck, needs_admin
from bot.core.models import (
    STEP_FILED,
    Approval,
    Event,
    NewRequest,
    Outcome,
    Request,
    Review,
    Status,
    Target,
)
from bot.core.ports import ApprovalRecord, RequestStore
from bot.core.preview import DRIFTED, PREVIEWED, UNDONE, Preview, Purpose, StoredPreview
from bot.core.scheduling import Wait
from bot.core.undo import WITHDRAWN
from bot.errors import AlreadyPending, Conflict, KeyReused, LostClaim, RequestNotFound
from tests.support.database import POSTGRES_URL, PostgresCopies, StoreFactory, database_at_head

__all__ = ["MemoryStore", "memory_store", "request_store", "request_stores"]

KEY_REUSED = (
    "this key already filed a different request; nothing was filed: send the same request "
    "again to get that one, or use a new key"
)


@dataclass
class _Row:
    """One request as the store keeps it: the model plus what only the store sees."""

    request: Request
    dedupe_key: str | None = None
    claim: str | None = None
    lease_until: float | None = None
    started: set[int] = field(default_factory=set)
    attempted: dict[int, float] = field(default_factory=dict)  # an undo's creates, by target


class MemoryStore:
    """Requests in a dict; every transition checks its condition as the SQL UPDATE does."""

    def __init__(self) -> None:
        self._rows: dict[int, _Row] = {}
        self._events: list[Event] = []
        self._previews: dict[int, list[StoredPreview]] = {}
        self.owed: list[tuple[int, Kind, str]] = []  # posts owed with previews, as keyed

    # -- creating and reading -------------------------------------------------------------

    async def create_request(
        self,
        new: NewRequest,
        *,
        approvals_needed: int,
        filed_by_step: bool = False,
        limits: LimitCheck | None = None,
    ) -> tuple[Request, bool]:
        pending = new.pending(0, approvals_needed, filed_by_step=filed_by_step)
        return self._insert(new, pending, limits)

    async def create_break_glass(
        self,
        new: NewRequest,
        *,
        incident: str | None,
        review_due_at: float,
        lease_seconds: float,
        limits: LimitCheck | None = None,
    ) -> tuple[Request, str | None]:
        pending = replace(
            new.pending(0),
            decided_by=new.requester,
            break_glass=True,
            incident=incident,
            review=Review.PENDING,
            review_due_at=review_due_at,
        )
        stored, created = self._insert(new, pending, limits)
        if not created:
            return stored, None
        self._event(
            stored.id,
            new.now,
            new.requester,
            "broke_glass",
            {"incident": incident, "reason": new.reason},
        )
        claim = self._claim(stored.id, Status.PENDING, new.now, lease_seconds)
        return self._rows[stored.id].request, claim

    def _insert(
        self, asked: NewRequest, new: Request, limits: LimitCheck | None
    ) -> tuple[Request, bool]:
        """Stores `new` (as `asked`) pending with its `requested` event; a replay of its dedupe
        key returns the first request (KeyReused if it asked for something else);
        AlreadyPending when a target waits in another pending request of its org, unless
        `again`; OverLimit when `limits` would be passed."""
        dedupe_key, again, policy = asked.dedupe_key, asked.again, asked.policy
        for row in self._rows.values():
            if dedupe_key is not None and row.dedupe_key == dedupe_key:
                if not _asks_the_same(row.request, new):
                    raise KeyReused(KEY_REUSED)
                return row.request, False
        live = None if new.undoes is None else self._live_undo(new.undoes)
        if live is not None:
            undo_id, undoing = live
            said = "already undone" if undoing is Status.SUCCEEDED else f"being undone ({undoing})"
            raise Conflict(f"request #{new.undoes} is {said} by request #{undo_id}")
        if not again:
            for state in new.targets:
                holder = self._holder(new.org, state.target)
                if holder is not None:
                    raise AlreadyPending.naming(str(state.target), holder)
        judged = None if limits is None else limits.judge(self._filed(new.org, limits))
        request = replace(new, id=max(self._rows, default=0) + 1)
        admin_why = None if judged is None else needs_admin(judged)
        if admin_why is not None:
            request = replace(
                request, needs_admin=admin_why, approvals_needed=request.approvals_needed + 1
            )
        self._rows[request.id] = _Row(request, dedupe_key)
        detail: dict[str, object] = {
            "action": new.action.value,
            "targets": [str(t.target) for t in new.targets],
            "reason": new.reason,
        }
        if new.filed_by_step:
            detail["filed_by"] = STEP_FILED
        if new.undoes is not None:
            detail["undoes"] = new.undoes
        if new.run_after is not None:
            detail["run_after"] = new.run_after
        if policy is not None:
            detail["policy"] = dict(policy)
        if judged is not None:
            detail["limits"] = judged
        if admin_why is not None:
            detail["needs_admin"] = admin_why
        self._event(request.id, new.created_at, new.requester, "requested", detail)
        return request, True

    def _filed(self, org: str, limits: LimitCheck) -> list[list[Filed]]:
        """Per limit, the requests of `org` it counts (as bot/store/limits.py's query)."""
        return [
            [
                Filed(r.created_at, len(r.targets))
                for r in (row.request for row in self._rows.values())
                if r.org == org
                and r.created_at > counting.since
                and (counting.requester is None or r.requester == counting.requester)
                and (not counting.actions or r.action in counting.actions)
            ]
            for counting in limits.countings()
        ]

    def _holder(self, org: str, target: Target, not_key: str | None = None) -> int | None:
        """The pending request of `org` holding `target`: the oldest naming it."""
        for request_id, row in sorted(self._rows.items()):
            r = row.request
            if r.org != org or r.status is not Status.PENDING:
                continue
            if not_key is not None and row.dedupe_key == not_key:
                continue
            if any(t.target == target for t in r.targets):
                return request_id
        return None

    async def get(self, request_id: int, *, orgs: Collection[str] | None = None) -> Request | None:
        row = self._rows.get(request_id)
        if row is None or (orgs is not None and row.request.org not in orgs):
            return None
        return self._with_undo(row.request)

    async def list_requests(
        self,
        *,
        orgs: Iterable[str],
        statuses: Iterable[Status] | None = None,
        limit: int = 20,
        requester: str | None = None,
    ) -> list[Request]:
        wanted_orgs = set(orgs)
        wanted = None if statuses is None else set(statuses)
        found = [
            self._with_undo(row.request)
            for _, row in sorted(self._rows.items(), reverse=True)
            if row.request.org in wanted_orgs
            and (wanted is None or row.request.status in wanted)
            and (requester is None or row.request.requester == requester)
        ]
        return found[:limit]

    async def count_requests(self, *, orgs: Iterable[str], statuses: Iterable[Status]) -> int:
        return len(await self.list_requests(orgs=orgs, statuses=statuses, limit=len(self._rows)))

    async def events(self, request_id: int) -> list[Event]:
        return [e for e in self._events if e.request_id == request_id]

    async def pending_with_targets(
        self, org: str, targets: Sequence[Target], *, not_dedupe_key: str | None = None
    ) -> dict[Target, int]:
        found: dict[Target, int] = {}
        for target in targets:
            holder = self._holder(org, target, not_dedupe_key)
            if holder is not None:
                found[target] = holder
        return found

    # -- transitions ----------------------------------------------------------------------

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
        linked: int | None = None,
        check_linked: bool = False,
    ) -> ApprovalRecord:
        if request_id not in self._rows:
            raise LookupError(request_id)
        request = self._rows[request_id].request
        if request.status is Status.PENDING and now >= request.expires_at:
            self._set(request_id, status=Status.EXPIRED, decided_by="bot", finished_at=now)
            self._event(request_id, now, "bot", "expired")
            return ApprovalRecord(self._rows[request_id].request, False, None, Status.EXPIRED)
        if request.status is not Status.PENDING:
            return ApprovalRecord(request, False, None, request.status)
        bound = [p.seq for p in self._previews.get(request_id, []) if p.purpose.binds]
        if seen and seen != (bound[-1] if bound else 0):
            return ApprovalRecord(request, False, None, stale=True)
        if check_linked and request.linked_numbers != linked:
            return ApprovalRecord(request, False, None, redecide=True)
        if approver in request.approvers:
            return ApprovalRecord(request, False, None)
        approvals = sorted(
            (*request.approvals, Approval(approver, now, note or None)),
            key=lambda a: (a.at, a.approver),
        )
        self._set(request_id, approvals=tuple(approvals))
        self._event(request_id, now, approver, "approved", {"note": note} if note else None)
        if eligible is not None:
            self._withdraw_ineligible(request_id, eligible, now)
        counted = self._rows[request_id].request.approvers
        have = len(counted)
        if needed > request.approvals_needed:
            self._set(request_id, approvals_needed=needed)
            self._event(request_id, now, "bot", "policy_raised", {"approvals_needed": needed})
        claim = None
        if wait is not None and wait.run_at > now:
            if have >= max(request.approvals_needed, needed) and (
                quorum is None or quorum(counted)
            ):
                self._hold(request_id, approver, wait, now)
        elif have >= max(request.approvals_needed, needed) and (quorum is None or quorum(counted)):
            claim = self._claim(request_id, Status.PENDING, now, lease_seconds)
            if claim is not None:
                self._set(request_id, decided_by=approver)
        return ApprovalRecord(self._rows[request_id].request, True, claim)

    def _hold(self, request_id: int, approver: str, wait: Wait, now: float) -> None:
        self._set(
            request_id,
            status=Status.SCHEDULED,
            run_at=wait.run_at,
            run_until=wait.run_until,
            decided_by=approver,
            decision_note=wait.text(now),
        )
        detail = {"run_at": wait.run_at, "run_until": wait.run_until, "why": wait.why}
        self._event(request_id, now, "bot", "scheduled", detail)

    async def scheduled(self, *, due_by: float | None = None, limit: int = 500) -> list[int]:
        held = [
            (row.request.run_at or 0.0, i)
            for i, row in self._rows.items()
            if row.request.status is Status.SCHEDULED
            and (due_by is None or (row.request.run_at or 0.0) <= due_by)
        ]
        return [i for _, i in sorted(held)][:limit]

    async def claim_scheduled(
        self, request_id: int, *, now: float, lease_seconds: float
    ) -> tuple[str, Request] | None:
        claim = self._claim(request_id, Status.SCHEDULED, now, lease_seconds)
        return None if claim is None else (claim, self._rows[request_id].request)

    async def reschedule(
        self, request_id: int, *, was: float, wait: Wait, now: float
    ) -> Request | None:
        request = self._rows[request_id].request
        if request.status is not Status.SCHEDULED or request.run_at != was:
            return None
        self._set(
            request_id,
            run_at=wait.run_at,
            run_until=wait.run_until,
            decision_note=wait.text(now),
        )
        detail = {"run_at": wait.run_at, "run_until": wait.run_until, "why": wait.why}
        self._event(request_id, now, "bot", "rescheduled", detail)
        return self._rows[request_id].request

    def _withdraw_ineligible(self, request_id: int, eligible: Collection[str], now: float) -> None:
        approvals = self._rows[request_id].request.approvals
        for stale in [a.approver for a in approvals if a.approver not in eligible]:
            self._event(
                request_id,
                now,
                "bot",
                "approval_withdrawn",
                {"approver": stale, "reason": "no longer an approver in the org file in force"},
            )
        self._set(request_id, approvals=tuple(a for a in approvals if a.approver in eligible))

    def _claim(
        self,
        request_id: int,
        expected: Status,
        now: float,
        lease_seconds: float,
        old_token: str | None = None,
    ) -> str | None:
        """Moves the request to executing with a fresh token, only if it is still as expected."""
        row = self._rows[request_id]
        if row.request.status is not expected:
            return None
        if old_token is not None and (
            row.claim != old_token or row.lease_until is None or row.lease_until >= now
        ):
            return None
        row.claim, row.lease_until = uuid.uuid4().hex, now + lease_seconds
        self._set(request_id, status=Status.EXECUTING, executions=row.request.executions + 1)
        kind = "claimed" if old_token is None else "reclaimed"
        self._event(request_id, now, "bot", kind, {"lease_seconds": lease_seconds})
        return row.claim

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
        row = self._rows.get(request_id)
        if row is None or row.request.status is not source:
            return None
        self._set(
            request_id, status=to, decided_by=actor, finished_at=now, decision_note=_note(detail)
        )
        self._event(request_id, now, actor, kind, detail)
        return self._rows[request_id].request

    async def due_for_expiry(self, now: float) -> list[int]:
        return [
            i
            for i, row in sorted(self._rows.items())
            if row.request.status is Status.PENDING and row.request.expires_at <= now
        ]

    async def stale_executions(self, now: float) -> list[tuple[int, str]]:
        return [
            (i, row.claim)
            for i, row in sorted(self._rows.items())
            if row.request.status is Status.EXECUTING
            and row.claim is not None
            and row.lease_until is not None
            and row.lease_until < now
        ]

    async def reclaim(
        self, request_id: int, old_token: str, now: float, lease_seconds: float
    ) -> str | None:
        return self._claim(request_id, Status.EXECUTING, now, lease_seconds, old_token)

    async def renew(self, request_id: int, claim: str, until: float) -> None:
        self._held(request_id, claim).lease_until = until

    def _held(self, request_id: int, claim: str) -> _Row:
        """The row if `claim` still runs it, else LostClaim."""
        row = self._rows.get(request_id)
        if row is None or row.claim != claim or row.request.status is not Status.EXECUTING:
            raise LostClaim(request_id)
        return row

    async def start_target(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> bool:
        row = self._held(request_id, claim)
        row.lease_until = lease_until
        earlier = idx in row.started
        row.started.add(idx)
        return earlier

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
        row = self._held(request_id, claim)
        row.lease_until = lease_until
        states = list(row.request.targets)
        if states[idx].outcome is None:
            states[idx] = replace(
                states[idx],
                outcome=outcome,
                status_code=status_code,
                message=message,
                attempts=states[idx].attempts + attempts,
            )
            self._set(request_id, targets=tuple(states))
        detail: dict[str, object] = {
            "target": str(states[idx].target),
            "outcome": outcome.value,
            "status_code": status_code,
            "message": message,
            "attempts": attempts,
        }
        self._event(request_id, now, "sfvopi", "api_result", detail)

    async def finish(self, request_id: int, claim: str, *, status: Status, now: float) -> Request:
        row = self._held(request_id, claim)
        row.lease_until = None
        self._set(request_id, status=status, finished_at=now)
        if row.request.break_glass:
            results = [
                {"target": str(t.target), "outcome": t.outcome and t.outcome.value}
                for t in row.request.targets
            ]
            self._event(request_id, now, "bot", "executed", {"targets": results})
        self._event(request_id, now, "bot", status.value)
        undoes = row.request.undoes
        if status is Status.SUCCEEDED and undoes is not None:
            self._event(undoes, now, "bot", UNDONE, {"by_request": request_id})
        return self._with_undo(row.request)

    async def review(
        self,
        request_id: int,
        *,
        reviewer: str,
        verdict: Review,
        note: str | None,
        now: float,
    ) -> Request | None:
        row = self._rows.get(request_id)
        if row is None or row.request.review is not Review.PENDING:
            return None
        if not row.request.break_glass or not row.request.status.final:
            return None
        self._set(
            request_id, review=verdict, reviewed_by=reviewer, review_note=note, reviewed_at=now
        )
        detail: dict[str, object] = {"review": verdict.value}
        if note:
            detail["note"] = note
        self._event(request_id, now, reviewer, "reviewed", detail)
        return self._rows[request_id].request

    # -- previews (bot/store/previews.py) -------------------------------------------------

    async def record_preview(
        self,
        request_id: int,
        purpose: Purpose,
        preview: Preview,
        *,
        now: float,
        event: bool = True,
        owed: Sequence[tuple[Kind, str]] = (),
        policy: Mapping[str, object] | None = None,
    ) -> StoredPreview:
        if request_id not in self._rows:
            raise RequestNotFound(f"there is no request #{request_id}")
        kept = self._previews.setdefault(request_id, [])
        stored = StoredPreview(
            request_id,
            len(kept) + 1,
            purpose,
            now,
            preview.fingerprint(),
            Preview.from_json(preview.to_json()),  # as the body column reads back
        )
        kept.append(stored)
        if event:
            self._event(request_id, now, "bot", PREVIEWED, stored.event_detail())
        self.owed += [(request_id, kind, posted_with(to, stored.seq)) for kind, to in owed]
        if purpose.binds:
            self._set(request_id, linked_numbers=preview.linked_numbers())
        if policy is not None:
            self._event(request_id, now, "bot", "policy_redecided", dict(policy))
        return stored

    async def previews(self, request_id: int) -> list[StoredPreview]:
        return list(self._previews.get(request_id, []))

    async def drift(
        self,
        request_id: int,
        claim: str,
        preview: Preview,
        *,
        now: float,
        detail: dict[str, object],
        owed: Sequence[tuple[Kind, str]] = (),
    ) -> Request:
        row = self._held(request_id, claim)
        row.claim = row.lease_until = None
        self._set(request_id, status=Status.PENDING, approvals=(), decided_by=None)
        stored = await self.record_preview(request_id, Purpose.REBOUND, preview, now=now, owed=owed)
        self._event(request_id, now, "bot", DRIFTED, {**detail, "seq": stored.seq})
        return row.request

    async def unpreviewed(self, filed_before: float, limit: int = 100) -> list[int]:
        return [
            rid
            for rid, row in sorted(self._rows.items())
            if row.request.status is Status.PENDING
            and not row.request.break_glass
            and row.request.created_at < filed_before
            and not self._previews.get(rid)
        ][:limit]

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None:
        kept = [p for p in self._previews.get(request_id, []) if purpose in (None, p.purpose)]
        return kept[-1] if kept else None

    # -- undo (bot/store/undo.py, undo_facts.py) ---------------------------------------------

    def _live_undo(self, request_id: int) -> tuple[int, Status] | None:
        for undo_id, row in sorted(self._rows.items(), reverse=True):
            if row.request.undoes == request_id and row.request.status not in WITHDRAWN:
                return undo_id, row.request.status
        return None

    def _with_undo(self, request: Request) -> Request:
        """As the SQL store loads it: a finished request with its pre-image and live undo."""
        if not (request.status.ran and request.status.final):
            return request
        kept = self._previews.get(request.id, [])
        images = [p.preview for p in kept if p.purpose is Purpose.BEFORE_EXECUTION]
        pre_image = bool(images) and images[-1].unreadable is None
        return replace(request, pre_image=pre_image, undo=self._live_undo(request.id))

    async def attempt_create(
        self, request_id: int, idx: int, claim: str, now: float, lease_until: float
    ) -> float | None:
        row = self._held(request_id, claim)
        row.lease_until = lease_until
        earlier = row.attempted.get(idx)
        row.attempted.setdefault(idx, now)
        return earlier

    async def record_new_app(
        self,
        request_id: int,
        idx: int,
        claim: str,
        *,
        app_id: str,
        now: float,
        lease_until: float,
    ) -> str:
        row = self._held(request_id, claim)
        row.lease_until = lease_until
        states = list(row.request.targets)
        if states[idx].new_app_id is None:
            states[idx] = replace(states[idx], new_app_id=app_id)
            self._set(request_id, targets=tuple(states))
            detail: dict[str, object] = {"app_id": states[idx].target.app_id, "new_app_id": app_id}
            self._event(request_id, now, "sfvopi", "recreated", detail)
        kept = states[idx].new_app_id
        assert kept is not None
        return kept

    # -- keeping ------------------------------------------------------------------------------

    def _set(self, request_id: int, **changes: object) -> None:
        row = self._rows[request_id]
        row.request = replace(row.request, **changes)  # type: ignore[arg-type]

    def _event(
        self,
        request_id: int,
        at: float,
        actor: str,
        kind: str,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Appends to the trail, its detail read back as the database's JSON column would."""
        stored = json.loads(json.dumps(detail or {}, sort_keys=True))
        self._events.append(Event(request_id, at, actor, kind, stored))


def _note(detail: dict[str, object] | None) -> str | None:
    for key in ("note", "reason"):
        value = (detail or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _asks_the_same(first: Request, new: Request) -> bool:
    """As bot/store/requests.py's: every field that changes what is filed."""

    def filed(r: Request) -> tuple[object, ...]:
        asked = (r.org, r.action, r.requester, r.reason, r.break_glass, r.incident)
        return (*asked, r.run_after, r.undoes, frozenset(t.target for t in r.targets))

    return filed(first) == filed(new)


# -- fixtures ---------------------------------------------------------------------------------


class MemoryFactory:
    """As StoreFactory, for the memory store: every `open` is the same store, as every
    replica's store is the same database."""

    kind = "memory"

    def __init__(self) -> None:
        self.store = MemoryStore()

    async def open(self) -> MemoryStore:
        return self.store


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture(params=["sqlite", "postgres", "memory"])
async def request_stores(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_copies: PostgresCopies | None
) -> AsyncIterator[StoreFactory | MemoryFactory]:
    """Opens RequestStores on one fresh store of each kind: the contract suite's stores (the
    SQL ones on a copy of the session's migrated database)."""
    if request.param == "memory":
        yield MemoryFactory()
        return
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SFVOPI_TEST_POSTGRES_URL")
    kind = str(request.param)
    async with database_at_head(kind, tmp_path / "store.db", request, postgres_copies) as url:
        factory = StoreFactory(kind, tmp_path, url=url)
        yield factory
        await factory.cleanup()


@pytest.fixture
async def request_store(request_stores: StoreFactory | MemoryFactory) -> RequestStore:
    return await request_stores.open()
