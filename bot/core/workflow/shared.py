"""What every part of the workflow reads at the moment it acts: the org file in force, the
clock, the limits, user groups' members, and who hears of a change. One object, held by each
part, so a reload, a test's clock or the Slack layer's group cache reaches them all at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from bot.core.models import Request
from bot.core.org import Groups, Org, OrgDirectory, OrgsInForce
from bot.core.ports import Admission, GroupMembers

log = logging.getLogger(__name__)

Listener = Callable[[Request], None]


class Shared:
    """The workflow's state, as its parts share it (none of them copies a field)."""

    def __init__(
        self,
        orgs: OrgDirectory | OrgsInForce,
        *,
        concurrency: int,
        max_targets: int,
        lease_seconds: float,
        clock: Callable[[], float],
        groups: GroupMembers | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.in_force = orgs if isinstance(orgs, OrgsInForce) else OrgsInForce(orgs)
        self.concurrency = concurrency
        self.max_targets = max_targets
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.listeners: list[Listener] = []
        self.groups = groups  # Slack user groups' members, for roles granted to groups
        self.admission = admission  # asked right before a new request is written

    @property
    def orgs(self) -> OrgDirectory:
        """The org file in force now (the holder is swapped whole on reload)."""
        return self.in_force.current

    def changed(self, request: Request) -> None:
        """Tells every listener; one that fails is logged and the others still hear."""
        for listener in self.listeners:
            try:
                listener(request)
            except Exception:
                log.exception("listener failed for request %s", request.id)

    def known(self, orgs: Iterable[Org]) -> Groups:
        """The members of these orgs' user groups as last read, without waiting."""
        wanted = self.orgs.groups(orgs)
        return self.groups.known(wanted) if wanted and self.groups is not None else {}

    async def members(self, orgs: Iterable[Org]) -> Groups:
        """As `known`, waiting briefly (within an ack) for a group never read yet."""
        wanted = self.orgs.groups(orgs)
        return await self.groups.members(wanted) if wanted and self.groups is not None else {}
