"""Scheduled execution: an approval outside the request's change window (or in a freeze, or
before its `--at`) holds it instead of running it; the sweep, on every replica, claims each
held request once it is due, with the same claim a quorum takes, so it runs exactly once; one
not run before its window closes expires. The org file in force decides again when it runs
(a reload, or a replica's start, looks at every held request: a freeze added holds it longer,
one lifted lets it run)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.core.models import Request, Status
from bot.core.org import OrgDirectory, Role
from bot.core.ports import ScheduleStore
from bot.core.windows import runs_at_text
from bot.core.workflow import policy_rules
from bot.core.workflow.access import unless_pending
from bot.core.workflow.deciding import Deciding
from bot.core.workflow.holding import wait_for
from bot.core.workflow.running import Running
from bot.core.workflow.shared import Shared
from bot.errors import LostClaim, MembershipPending, NeverOpens
from bot.observability.context import request_scope

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Scheduling:
    """Held requests run when due, once, by whichever replica claims them first."""

    shared: Shared
    store: ScheduleStore
    running: Running
    deciding: Deciding  # its expiry, from scheduled
    # the org file every hold was checked by
    _planned_for: OrgDirectory | None = field(default=None, init=False)

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
        """One held request, under the org file in force now: cancelled if its requester or
        approvals no longer stand, run if its window is open, moved if it now opens elsewhen,
        expired if it can no longer run."""
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
            groups = await self.shared.members([org])
            unless_pending(org, groups, Role.REQUESTER)
            lapsed = policy_rules.lapsed(org, request, groups)
        except MembershipPending:
            return None  # settled by a later sweep, once its user groups are read
        if lapsed is not None:  # held on people: they must still stand when it runs
            return await self.deciding.withdraw(request.id, lapsed)
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
        return await self.deciding.expire(request.id, why=why, source=Status.SCHEDULED)
