"""Keeps each person's App Home in step with the store: published when they open it, and again
whenever a request concerning them changes (on whichever replica changed it: who has a Home
to keep up to date is in the store). A failed publish is logged, never raised."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import Request, Status
from bot.core.workflow import Deferral, Workflow
from bot.slack import home
from bot.slack.after_ack import Background
from bot.slack.refusals import classify
from bot.store.roles import HomeStore

log = logging.getLogger(__name__)

FINAL = [s for s in Status if s.final]
# How long a read of whose Home to republish is reused for the same people: a burst of
# requests from one person asks the store once, not once per request (issue 16). A Home opened
# here drops it at once; one opened on another replica is seen within this long.
VIEWERS_REUSED_FOR = 2.0


@dataclass(eq=False, repr=False)
class AppHome:
    store: HomeStore
    workflow: Workflow
    slack: AsyncWebClient
    background: Background
    _: KW_ONLY
    clock: Callable[[], float] = time.time
    _viewers: dict[frozenset[str], tuple[float, list[str]]] = field(
        init=False, default_factory=dict
    )
    _publishing: set[str] = field(init=False, default_factory=set)
    _again: set[str] = field(init=False, default_factory=set)
    _notices: dict[str, str] = field(init=False, default_factory=dict)

    async def opened(self, user: str) -> None:
        """`user` opened the Home tab: remembered (so changes republish it), then published."""
        self._viewers.clear()
        try:
            await self.store.remember_home(user, self.clock())
        except Exception as exc:
            log.warning("could not remember that %s opened the Home tab (%s)", user, exc)
        await self.publish(user)

    def changed(self, request: Request, after_ack: Deferral | None) -> None:
        """The workflow's listener: the Homes of the people this request concerns, after the ack."""
        self.background.spawn(self.refresh(request), name=f"home-{request.id}", after_ack=after_ack)

    async def refresh(self, request: Request) -> None:
        """Republishes the Home of the requester and of everyone who may approve it, among
        those who have opened theirs."""
        try:
            viewers = await self._viewers_among(self.workflow.concerned(request))
        except Exception as exc:
            log.warning("request %s: could not read whose Home to update (%s)", request.id, exc)
            return
        for user in viewers:
            await self.publish(user)

    async def _viewers_among(self, users: set[str]) -> list[str]:
        key, now = frozenset(users), time.monotonic()
        known = self._viewers.get(key)
        if known is not None and now - known[0] < VIEWERS_REUSED_FOR:
            return known[1]
        viewers = await self.store.home_viewers(users)
        if len(self._viewers) >= 256:
            self._viewers.clear()
        self._viewers[key] = (now, viewers)
        return viewers

    async def tell(self, user: str, notice: str) -> None:
        """Says `notice` at the top of the user's Home (a click there that was refused)."""
        self._notices[user] = notice
        await self.publish(user)

    async def publish(self, user: str) -> None:
        """Publishes the user's Home; calls for a Home being published run once more after it,
        so the last one shows the latest state and no two publish the same Home at once."""
        if user in self._publishing:
            self._again.add(user)
            return
        self._publishing.add(user)
        try:
            while True:
                self._again.discard(user)
                await self._publish(user, self._notices.pop(user, None))
                if user not in self._again:
                    return
        finally:
            self._publishing.discard(user)

    async def _publish(self, user: str, notice: str | None) -> None:
        try:
            view = await self.view(user, notice)
            await self.slack.views_publish(user_id=user, view=view)
        except Exception as exc:
            log.warning("could not publish the Home of %s (%s)", user, classify(exc).error)

    async def view(self, user: str, notice: str | None = None) -> dict[str, object]:
        """The user's Home as it stands in the store now."""
        names = [org.name for org, _role in self.workflow.whoami(user)]
        decided = (
            await self.store.list_requests(orgs=names, statuses=FINAL, limit=home.DECIDED_SHOWN)
            if names
            else []
        )
        return home.home_view(
            user,
            orgs=names,
            waiting=await self.workflow.waiting_for(user),
            mine=await self.workflow.mine(user, limit=home.MINE_SHOWN),
            decided=decided,
            updated=self.clock(),
            notice=notice,
        )
