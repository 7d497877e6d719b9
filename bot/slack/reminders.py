"""Reminders and escalation in Slack: a pending request nobody decided is re-announced in its
card's thread and to each approver who has not approved, then escalated to whom the policy
names.

When is the policy's (bot.core.reminders.due); who does a step is the store's (a claim, one
per step however many replicas sweep); this posts it. Each post is recorded as it lands, so a
refusal or a crash is retried by a later sweep (the claim's lease lapses) without doubling
what was sent; a request that leaves pending stops at the next post.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import ids
from bot.core.models import Request
from bot.core.org import Groups, Org, OrgsInForce, Role, eligible_approvers, in_force
from bot.core.ports import GroupMembers
from bot.core.reminders import ReminderState, Step, due
from bot.slack import blocks
from bot.slack.refusals import TOKEN, Kind, classify
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Post:
    """One message of a step: `key` names it in the store's record of what was sent."""

    key: str
    channel: str
    text: str
    thread_ts: str | None = None


class ReminderPoster:
    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        orgs: OrgsInForce,
        groups: GroupMembers | None = None,
        *,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.slack = slack
        self.orgs = orgs
        self.groups = groups
        self.lease_seconds = lease_seconds
        self.clock = clock

    async def sweep(self) -> None:
        """Every step that is due, for every pending request; never raises for one request."""
        for state in await self.store.reminder_candidates(self.clock()):
            try:
                await self.advance(state)
            except Exception:
                log.exception("request %s: could not remind or escalate", state.request_id)

    async def advance(self, state: ReminderState) -> None:
        """Takes and posts each step due, in order, as long as each is posted whole."""
        org = self.orgs.current.get(state.org)
        if org is None:
            return
        reminders = org.policy.reminders_for(state.action)
        for _ in Step:
            todo = due(reminders, state, self.clock())
            if todo is None:
                return
            request = await self.store.get(state.request_id)
            if request is None:
                return
            groups = self._known(org)
            request = in_force(request, org, groups)
            posts = self._posts(todo.step, request, org, groups, None)
            if todo.resume:
                sent = await self.store.resume_reminder(
                    state.request_id, todo.step, self.clock(), self.lease_seconds
                )
                if sent is None:
                    return
            else:
                detail: dict[str, object] = {"to": [p.key for p in posts]}
                if not await self.store.claim_reminder(
                    state.request_id, todo.step, self.clock(), self.lease_seconds, detail
                ):
                    return
                sent = []
            posts = self._posts(todo.step, request, org, groups, await self._link(request))
            if not await self._send(request, todo.step, posts, set(sent)):
                return  # the lease lapses and a later sweep sends what is missing
            await self.store.finish_reminder(state.request_id, todo.step)
            state = replace(state, step=todo.step, done=todo.step, lease_until=None)

    def _known(self, org: Org) -> Groups:
        return self.groups.known(org.groups()) if self.groups and org.groups() else {}

    def _posts(
        self, step: Step, request: Request, org: Org, groups: Groups, link: str | None
    ) -> list[Post]:
        """What a step says, and where: the thread first, then each person or channel."""
        assert request.card_channel and request.card_ts
        waiting = [
            u
            for u in org.approvers(groups)
            if u in eligible_approvers(org, request, groups) and u not in request.approvers
        ]
        thread = request.card_channel, request.card_ts
        # approvers by their own role are named; those by a group's, by the group's mention
        listed = [u for u in waiting if org.members.get(u, Role.VIEWER) >= Role.APPROVER]
        if step is Step.REMIND:
            return [
                Post(
                    "thread",
                    thread[0],
                    blocks.reminder_thread(request, listed, org.approver_groups()),
                    thread[1],
                ),
                *(Post(f"dm:{u}", u, blocks.reminder_dm(request, link)) for u in waiting),
            ]
        to = org.policy.reminders_for(request.action).escalate_to
        channels = [t for t in to if ids.CHANNEL_ID.fullmatch(t)]
        mentioned = [t for t in to if t not in channels]
        people = [t for t in to if ids.USER_ID.fullmatch(t)]
        posts = [
            Post(
                "thread",
                thread[0],
                blocks.escalation_thread(request, mentioned or channels, listed),
                thread[1],
            )
        ]
        escalation = blocks.escalation_post(request, link)
        posts += [Post(f"channel:{c}", c, escalation) for c in channels]
        posts += [Post(f"dm:{u}", u, escalation) for u in people]
        return posts

    async def _send(self, request: Request, step: Step, posts: list[Post], sent: set[str]) -> bool:
        """Posts what was not sent yet. False when Slack should be asked again later, or the
        request left pending (nothing more is sent for it)."""
        for post in posts:
            if post.key in sent:
                continue
            refused: str | None = None
            try:
                await self.slack.chat_postMessage(
                    channel=post.channel,
                    text=post.text,
                    thread_ts=post.thread_ts,
                    unfurl_links=False,
                )
            except Exception as exc:
                refusal = classify(exc, f"<#{post.channel}>")
                if refusal.kind is Kind.TRANSIENT or refusal.error in TOKEN:
                    log.warning(
                        "request %s: Slack did not take the %s to %s (%s); trying again later",
                        request.id,
                        step.name.lower(),
                        post.key,
                        refusal.error,
                    )
                    return False
                # never accepted, or an admin's to fix for this one post (a channel the bot is
                # not in): recorded, and the others still go out
                log.warning(
                    "request %s: Slack refused the %s to %s (%s): %s",
                    request.id,
                    step.name.lower(),
                    post.key,
                    refusal.error,
                    refusal.fix,
                )
                refused = refusal.error
            now = self.clock()
            if not await self.store.mark_reminder_sent(
                request.id, step, post.key, now, now + self.lease_seconds, refused=refused
            ):
                return False
        return True

    async def _link(self, request: Request) -> str | None:
        """The card's permalink, or None (the messages then name its channel instead)."""
        if not (request.card_channel and request.card_ts):
            return None
        try:
            found = await self.slack.chat_getPermalink(
                channel=request.card_channel, message_ts=request.card_ts
            )
        except Exception as exc:
            log.info("request %s: no permalink for its card (%s)", request.id, exc)
            return None
        link = found.get("permalink")
        return str(link) if link else None
