"""Scheduled execution: an approval outside the request's change window (or in a freeze, or
before its `--at`) holds it instead of running it; the sweep, on every replica, claims each
held request once it is due, with the same claim a quorum takes, so it runs exactly once; one
not run before its window closes expires. The org file in force decides again when it runs
(a reload, or a replica's start, looks at every held request: a freeze added holds it longer,
one lifted lets it run)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.core.models import Action, Request, Status, Target
from bot.core.org import Org, OrgDirectory
from bot.core.ports import ScheduleStore
from bot.core.scheduling import Wait, at_refusal, waits
from bot.core.text import visible
from bot.core.windows import common_open, parse_at, runs_at_text
from bot.core.workflow.shared import Shared
from bot.errors import InvalidRequest, LostClaim, NeverOpens
from bot.observability.context import request_scope

if TYPE_CHECKING:  # running imports filing (an undo files), which imports this module
    from bot.core.workflow.running import Running

log = logging.getLogger(__name__)


def wait_for(org: Org, request: Request, now: float) -> Wait | None:
    """What an approval completing the quorum at `now` does: None, run now; else a Wait.
    NeverOpens when none of its windows opens again. Break-glass never waits."""
    if request.break_glass:
        return None
    policy = org.policy
    schedules = policy.schedules_for(request.action, (t.target for t in request.targets))
    if not schedules and (request.run_after is None or request.run_after <= now):
        return None  # an org file without windows: exactly as before
    return waits(schedules, now, after=request.run_after, grace=policy.ttl_minutes * 60)


def asked_for(
    org: Org, action: Action, targets: Sequence[Target], at: str | None, now: float
) -> float | None:
    """At filing: the moment `--at` asks for (None: none asked), refused (InvalidRequest) in
    the past, past the policy's `schedule_within_hours`, or where no window of the request
    opens after it; a request whose windows never open again is refused too (NeverOpens)."""
    schedules = org.policy.schedules_for(action, targets)
    if schedules and common_open(schedules, now) is None:
        raise NeverOpens(
            f"none of the change windows {action.value} has in {org.name} opens again within "
            "a year, so this request could never run"
        )
    if at is None:
        return None
    moment = parse_at(at)
    if moment is None:
        raise InvalidRequest(
            f"--at {visible(at)} is not a time like 2026-12-08T02:00+05:30 (a date, a time and "
            "its offset from UTC, or Z)"
        )
    refused = at_refusal(moment, now, org.policy.schedule_within_hours, schedules, visible(at))
    if refused is not None:
        raise InvalidRequest(refused)
    return moment


class Scheduling:
    """Held requests run when due, once, by whichever replica claims them first."""

    def __init__(self, shared: Shared, store: ScheduleStore, running: Running) -> None:
        self.shared = shared
        self.store = store
        self.running = running
        self._planned_for: OrgDirectory | None = None  # the org file every hold was checked by

    async def sweep(self) -> list[Request]:
        """Runs, moves or expires each held request that is due; every held request when the
        org file in force is not the one they were last checked by (a start, a reload)."""
        orgs = self.shared.orgs
        everything = orgs is not self._planned_for
        due_by = None if everything else self.shared.clock()
        settled = []
        for request_id in await self.store.scheduled(due_by=due_by):
            request = await self.settle(request_id)
            if request is not None:
                settled.append(request)
        self._planned_for = orgs
        return settled

    @request_scope
    async def settle(self, request_id: int) -> Request | None:
        """One held request, under the org file in force now: run if its window is open,
        moved if it now opens elsewhen, expired if it can no longer run."""
        request = await self.store.get(request_id)
        if request is None or request.status is not Status.SCHEDULED:
            return None
        now = self.shared.clock()
        org = self.shared.orgs.get(request.org)
        if org is None:
            return await self._expire(request, f"org {request.org} is no longer configured")
        if request.run_until is not None and now >= request.run_until:
            return await self._expire(
                request,
                f"it was approved to run in its change window, but was not run before "
                f"{runs_at_text(request.run_until, 'UTC', now)}; file it again if still needed",
            )
        try:
            wait = wait_for(org, request, now)
        except NeverOpens as exc:
            return await self._expire(request, f"{exc.message}; file it again if still needed")
        if wait is None:
            return await self._run(request_id, now)
        if wait.run_at == request.run_at or request.run_at is None:
            return None
        moved = await self.store.reschedule(request_id, was=request.run_at, wait=wait, now=now)
        if moved is not None:
            self.shared.changed(moved)
        return moved

    async def _run(self, request_id: int, now: float) -> Request | None:
        claimed = await self.store.claim_scheduled(
            request_id, now=now, lease_seconds=self.shared.lease_seconds
        )
        if claimed is None:
            return None  # another replica took it
        claim, request = claimed
        try:
            return await self.running.execute(request_id, claim, claimed=request)
        except LostClaim:
            log.warning("request %s: another worker took it over", request_id)
            return None

    async def _expire(self, request: Request, why: str) -> Request | None:
        expired = await self.store.transition(
            request.id,
            to=Status.EXPIRED,
            actor="bot",
            now=self.shared.clock(),
            kind="expired",
            detail={"reason": why},
            source=Status.SCHEDULED,
        )
        if expired is not None:
            self.shared.changed(expired)
        return expired
