"""What every part of the workflow reads at the moment it acts: the org file in force, the
clock, the limits, user groups' members, and who hears of a change. One frozen object, built
whole and handed to each part, so a reload (the holder is swapped inside) reaches them all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bot.core.models import Request
from bot.core.org import Groups, Org, OrgDirectory, OrgsInForce
from bot.core.ports import Admission, GroupMembers

log = logging.getLogger(__name__)


class Deferral(Protocol):
    """Work its caller starts only once it has answered (a Slack request's ack): a listener
    hands it what it would start, so nothing touches the network before the answer is out."""

    def add(self, work: Coroutine[Any, Any, object], name: str) -> None: ...


PREVIEWS_AT_ONCE = 2  # previews read after filing at a time (Shared.previews_read)

# told of each change, with the caller's deferral (None: start any work now)
Listener = Callable[[Request, Deferral | None], None]


@dataclass(frozen=True)
class Shared:
    """The workflow's state, as its parts share it (none of them copies a field)."""

    in_force: OrgsInForce
    concurrency: int
    max_targets: int
    lease_seconds: float
    clock: Callable[[], float]
    groups: GroupMembers | None = None  # Slack user groups' members, for roles granted to groups
    admission: Admission | None = None  # asked right before a new request is written
    listeners: list[Listener] = field(default_factory=list)
    after_ack: Deferral | None = None  # what listeners defer their work to, if anything
    # previews read after filing at a time (bot/core/workflow/binding.py), however many
    # answering copies there are: a burst's acks come first
    previews_read: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(PREVIEWS_AT_ONCE)
    )

    @property
    def orgs(self) -> OrgDirectory:
        """The org file in force now (the holder is swapped whole on reload)."""
        return self.in_force.current

    def answering(self, after_ack: Deferral) -> Shared:
        """The same state and listeners, for a caller that answers before work may start."""
        return replace(self, after_ack=after_ack)

    def changed(self, request: Request) -> None:
        """Tells every listener; one that fails is logged and the others still hear."""
        for listener in self.listeners:
            try:
                listener(request, self.after_ack)
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
