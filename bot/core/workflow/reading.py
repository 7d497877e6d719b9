"""Reading requests: one by its number, the pending ones, the history, what waits for a
person, what they asked for; each as the org file in force sees it, and only in the orgs
the reader belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.models import Event, Request, Status
from bot.core.org import Org, Role, eligible_approvers, in_force
from bot.core.ports import ReadingStore
from bot.core.workflow.access import Access
from bot.core.workflow.shared import Shared

PENDING_SHOWN = 50  # the most `pending` lists; the count says how many more there are
WAITING = (Status.PENDING, Status.SCHEDULED)  # what `pending` lists: not run yet, not closed


@dataclass(eq=False, repr=False)
class Reading:
    """The reads a person (or an API client, in its one org) may make."""

    shared: Shared
    access: Access
    store: ReadingStore

    async def status(self, request_id: int, *, user: str, org: str | None = None) -> Request:
        """The request as the org file in force sees it, if `user` may see it (in `org`
        only, when given: an API client's)."""
        request, found, _role = await self.access.visible(request_id, user, org=org)
        return in_force(request, found, self.shared.known([found]))

    async def events(self, request_id: int, *, user: str) -> list[Event]:
        await self.access.visible(request_id, user)
        return await self.store.events(request_id)

    async def pending(
        self, *, user: str, org: str | None = None, limit: int = PENDING_SHOWN
    ) -> list[Request]:
        """Requests not run yet and not closed: waiting for approval, or approved and waiting
        for their change window (scheduled; they may still be cancelled)."""
        found = await self.store.list_requests(
            orgs=self.access.readable_orgs(user, org), statuses=list(WAITING), limit=limit
        )
        return [self._in_force(r) for r in found]

    async def pending_count(self, *, user: str, org: str | None = None) -> int:
        """How many are pending in all, where `pending` shows at most its limit."""
        orgs = self.access.readable_orgs(user, org)
        return await self.store.count_requests(orgs=orgs, statuses=list(WAITING))

    async def history(self, *, user: str, org: str | None = None, limit: int = 10) -> list[Request]:
        found = await self.store.list_requests(
            orgs=self.access.readable_orgs(user, org), limit=limit
        )
        return [self._in_force(r) for r in found]

    def _in_force(self, request: Request) -> Request:
        org = self.shared.orgs.get(request.org)
        return in_force(request, org, self.shared.known([org]) if org else {})

    async def waiting_for(self, user: str) -> list[Request]:
        """Pending requests `user` may approve now and has not approved yet (their App Home)."""
        memberships = self.whoami(user)
        orgs = {org.name: org for org, role in memberships if role >= Role.APPROVER}
        if not orgs:
            return []
        groups = self.shared.known(orgs.values())
        found = await self.store.list_requests(
            orgs=list(orgs), statuses=[Status.PENDING], limit=100
        )
        waiting = []
        for request in found:
            org = orgs[request.org]
            current = in_force(request, org, groups)
            if user in eligible_approvers(org, current, groups) and user not in current.approvers:
                waiting.append(current)
        return waiting

    async def mine(self, user: str, *, limit: int = 10) -> list[Request]:
        """The requests `user` asked for, newest first, in the orgs they still belong to."""
        names = [org.name for org, _role in self.whoami(user)]
        if not names:
            return []
        found = await self.store.list_requests(orgs=names, requester=user, limit=limit)
        return [in_force(r, self.shared.orgs.get(r.org)) for r in found]

    def concerned(self, request: Request) -> set[str]:
        """Whom a change to this request concerns: its requester and who may approve it."""
        org = self.shared.orgs.get(request.org)
        if org is None:
            return {request.requester}
        known = self.shared.known([org])
        return {request.requester} | set(eligible_approvers(org, request, known))

    def whoami(self, user: str) -> list[tuple[Org, Role]]:
        orgs = self.shared.orgs
        return orgs.memberships(user, self.shared.known(orgs.orgs.values()))
