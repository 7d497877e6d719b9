"""Who is in a Slack user group (`usergroups.users.list`), cached per group and kept fresh in
the background, so a role check answers at once from the last known list.

A group never read yet is fetched in the background and waited for briefly (well within an
ack); a group Slack refuses to list for good (`no_such_subteam`, `missing_scope`, a revoked
token) counts as empty, so nobody gains a role from a list the bot cannot read. A passing
failure (rate limit, outage) keeps the last known list and is tried again shortly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import KW_ONLY, dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.refusals import Kind, classify

log = logging.getLogger(__name__)

MAX_AGE = 300.0  # seconds a list is trusted before it is read again (in the background)
COLD_WAIT = 1.0  # seconds a role check waits for a group never read: far inside an ack
RETRY_AFTER = 5.0  # seconds before a group Slack did not answer for is asked again


@dataclass(frozen=True)
class Listing:
    """One group as last read: its members, or why Slack would not list it."""

    members: frozenset[str]
    read_at: float
    problem: str | None = None  # Slack's error code when the list could not be read


async def list_members(slack: AsyncWebClient, group: str) -> frozenset[str]:
    """The members of one group, straight from Slack (raises what slack-sdk raises)."""
    answer = await slack.usergroups_users_list(usergroup=group)
    users = answer.get("users") or []
    return frozenset(str(u) for u in users if isinstance(u, str))


@dataclass(eq=False, repr=False)
class UserGroups:
    """bot.core.ports.GroupMembers over the bot's Web API client."""

    slack: AsyncWebClient
    _: KW_ONLY
    max_age: float = MAX_AGE
    cold_wait: float = COLD_WAIT
    retry_after: float = RETRY_AFTER
    clock: Callable[[], float] = time.monotonic
    _listings: dict[str, Listing] = field(init=False, default_factory=dict)
    _failed_at: dict[str, float] = field(init=False, default_factory=dict)
    _reading: dict[str, asyncio.Task[None]] = field(init=False, default_factory=dict)

    def listing(self, group: str) -> Listing | None:
        return self._listings.get(group)

    def known(self, groups: Collection[str]) -> Mapping[str, frozenset[str]]:
        found: dict[str, frozenset[str]] = {}
        for group in groups:
            listing = self._listings.get(group)
            if listing is None or self.clock() - listing.read_at > self.max_age:
                self._read_soon(group)
            if listing is not None:
                found[group] = listing.members
        return found

    async def members(self, groups: Collection[str]) -> Mapping[str, frozenset[str]]:
        found = self.known(groups)
        cold = [self._reading[g] for g in groups if g not in found and g in self._reading]
        if cold:
            await asyncio.wait(cold, timeout=self.cold_wait)
            found = self.known(groups)
        return found

    async def refresh(self, groups: Collection[str]) -> None:
        """Reads every group now (the background refresher's round; start-up warms up)."""
        for group in groups:
            self._read_soon(group, force=True)
        running = [self._reading[g] for g in groups if g in self._reading]
        if running:
            await asyncio.wait(running)

    async def keep_fresh(self, groups: Callable[[], Collection[str]]) -> None:
        """Forever: reads every group the org file names, twice per `max_age`."""
        while True:
            try:
                await self.refresh(groups())
            except Exception:
                log.exception("could not refresh Slack user groups; trying again later")
            await asyncio.sleep(self.max_age / 2)

    async def close(self) -> None:
        tasks = list(self._reading.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _read_soon(self, group: str, *, force: bool = False) -> None:
        if group in self._reading:
            return
        failed = self._failed_at.get(group)
        if not force and failed is not None and self.clock() - failed < self.retry_after:
            return
        task = asyncio.get_running_loop().create_task(self._read(group), name=f"usergroup-{group}")
        self._reading[group] = task
        task.add_done_callback(lambda _t: self._reading.pop(group, None))

    async def _read(self, group: str) -> None:
        try:
            members = await list_members(self.slack, group)
        except Exception as exc:
            refusal = classify(exc)
            self._failed_at[group] = self.clock()
            if refusal.kind is Kind.TRANSIENT:
                log.warning("Slack did not list user group %s (%s)", group, refusal.error)
                return
            if self._problem(group) != refusal.error:
                log.warning(
                    "Slack refused to list user group %s (%s): it counts as empty; %s",
                    group,
                    refusal.error,
                    refusal.fix,
                )
            self._listings[group] = Listing(frozenset(), self.clock(), refusal.error)
            return
        self._failed_at.pop(group, None)
        self._listings[group] = Listing(members, self.clock())

    def _problem(self, group: str) -> str | None:
        listing = self._listings.get(group)
        return listing.problem if listing else None
