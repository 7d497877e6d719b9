"""The Slack outbox's one dispatcher: outcome announcements, reminders, escalations,
break-glass reviews, and what a preview owes (its full list, targets gone, a drift).

What is owed is the store's (slack_deliveries, written with the change that owes it); who
receives it is the core's (bot.core.deliveries); this claims each delivery due (one replica
posts it), renders it through RENDERERS, posts it and records what Slack said. A refusal to
retry waits with the rest of its step; a crash's lease lapses and a later sweep resumes. An
outcome is announced only once its card shows it: the notifier begins it, after the card.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import deliveries, failpoints, ids, undo
from bot.core.bound import approved_on, gone
from bot.core.deliveries import Delivery, Kind, Owed, Recipient
from bot.core.leases import held
from bot.core.models import Request, Review, Status
from bot.core.org import Groups, Org, OrgsInForce, in_force
from bot.core.ports import GroupMembers
from bot.core.preview import changes
from bot.core.workflow import Deferral
from bot.slack import blocks, break_glass
from bot.slack.after_ack import Background
from bot.slack.notifier import Notifier
from bot.slack.pacing import ChannelPacer
from bot.slack.refusals import TOKEN, classify
from bot.slack.refusals import Kind as Refusal
from bot.store.roles import DeliveryStore

log = logging.getLogger(__name__)

Render = Callable[[Request, Org, Groups, Recipient, str | None], list[str]]  # posts, in order
STEPS = {"thread": "thread", "requester": "notice", "outcome": "outcome"}  # an outcome's
MAX_BACK_OFF = 16  # leases: a refusal to retry waits one lease, doubling up to this many


def _reminded(
    request: Request, org: Org, groups: Groups, to: Recipient, link: str | None
) -> list[str]:
    if to.key != "thread":
        return [blocks.reminder_dm(request, link)]
    waiting = deliveries.waiting(org, request, groups)
    return [blocks.reminder_thread(request, deliveries.listed(org, waiting), org.approver_groups())]


def _escalated(
    request: Request, org: Org, groups: Groups, to: Recipient, link: str | None
) -> list[str]:
    if to.key != "thread":
        return [blocks.escalation_post(request, link)]
    named = org.policy.reminders_for(request.action).escalate_to
    channels = [t for t in named if ids.CHANNEL_ID.fullmatch(t)]
    mentioned = [t for t in named if t not in channels]
    listed = deliveries.listed(org, deliveries.waiting(org, request, groups))
    return [blocks.escalation_thread(request, mentioned or channels, listed)]


def _review_told(
    request: Request, org: Org, groups: Groups, to: Recipient, link: str | None
) -> list[str]:
    if to.key == "thread":
        return [break_glass.review_thread(request)]
    return [break_glass.review_notice(request)]


def _review_escalated(
    request: Request, org: Org, groups: Groups, to: Recipient, link: str | None
) -> list[str]:
    if to.key != "thread":
        return [break_glass.escalation_post(request, link)]
    named = deliveries.review_escalation(org, request, groups)
    to_whom = list(named["escalate_to"]) or list(named["approvers"])
    return [break_glass.escalation_thread(request, to_whom)]


def _announced(
    request: Request, org: Org, groups: Groups, to: Recipient, link: str | None
) -> list[str]:
    if to.key == "thread":
        return blocks.thread_details(request)
    if to.key == "requester":
        return [blocks.requester_notice(request)]
    return [blocks.outcome_summary(request)]


def _scheduled_told(
    request: Request, org: Org, groups: Groups, to: Recipient, link: str | None
) -> list[str]:
    return [blocks.scheduled_notice(request, to_requester=to.key != "thread")]


PREVIEW_POSTS = frozenset({Kind.PREVIEW_LISTED, Kind.PREVIEW_GONE, Kind.DRIFT_TOLD})
RENDERERS: dict[Kind, Render] = {
    Kind.ANNOUNCED: _announced,
    Kind.REMINDED: _reminded,
    Kind.ESCALATED: _escalated,
    Kind.REVIEW_TOLD: _review_told,
    Kind.REVIEW_ESCALATED: _review_escalated,
    Kind.SCHEDULED_TOLD: _scheduled_told,
}


class SlackOutbox:
    def __init__(
        self,
        store: DeliveryStore,
        slack: AsyncWebClient,
        orgs: OrgsInForce,
        notifier: Notifier,
        background: Background,
        groups: GroupMembers | None = None,
        *,
        pacer: ChannelPacer,  # the cards' own: one turn per channel for all that is posted
        lease_seconds: float = 60.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.pacer = pacer
        self.store = store
        self.slack = slack
        self.orgs = orgs
        self.notifier = notifier
        self.background = background
        self.groups = groups
        self.lease_seconds = lease_seconds
        # by default the notifier's: cards and what is threaded under them keep one time
        self.clock = clock or (lambda: notifier.clock())

    def changed(self, request: Request, after_ack: Deferral | None) -> None:
        """The workflow's listener: a review just given is told after the ack; what a
        pending request's preview owes (the requester told at once, the thread's lines) too."""
        if request.break_glass and request.review in (Review.ACKNOWLEDGED, Review.FLAGGED):
            work = self._told(request.id)
            self.background.spawn(work, name=f"review-{request.id}", after_ack=after_ack)
        elif request.status is Status.PENDING:
            owed = self.dispatch(request.id)
            self.background.spawn(owed, name=f"owed-{request.id}", after_ack=after_ack)

    async def _told(self, request_id: int) -> None:
        await self.notifier.sync(request_id)  # the card shows the review first
        await self.dispatch(request_id)

    async def sweep(self) -> None:
        """Every delivery due; never raises for one request."""
        for request_id in await self.store.settle_announcements(self.clock()):
            log.info("request %s: its outcome's posts were all done; recorded as told", request_id)
        for request_id in await self.store.due_deliveries(self.clock()):
            try:
                await self.dispatch(request_id)
            except Exception:
                log.exception("request %s: could not post what it owes Slack", request_id)

    async def announce(self, request_id: int) -> None:
        """The notifier's, once the card shows the outcome: the announcement may begin."""
        await self.dispatch(request_id, card_current=True)

    async def dispatch(self, request_id: int, *, card_current: bool = False) -> None:
        """Posts a request's deliveries due, in order, until one waits (Slack said later).
        An announcement not yet begun waits for the card (`card_current`)."""
        link: list[str | None] = []  # the card's permalink, asked once
        for _ in range(100):  # a step expanded adds its posts: read again, never forever
            due = [
                d
                for d in await self.store.deliveries(request_id, self.clock())
                if card_current or not (d.is_step and d.kind is Kind.ANNOUNCED)
            ]
            if not due:
                return
            delivery = due[0]
            if not await self.store.claim_delivery(delivery, self.clock(), self.lease_seconds):
                return
            renew = functools.partial(self.store.renew_delivery, delivery)
            what = f"request {request_id}'s {delivery.kind.value}"
            async with held(renew, lease_seconds=self.lease_seconds, clock=self.clock, what=what):
                if not await self._deliver(delivery, link):
                    return

    async def _deliver(self, delivery: Delivery, link: list[str | None]) -> bool:
        """One delivery, claimed: False when the request's next ones should wait."""
        stored = await self.store.get(delivery.request_id)
        org = self.orgs.current.get(stored.org) if stored else None
        if stored is None or org is None:
            return False  # the lease lapses; an org file that names it again resumes it
        groups = self.groups.known(org.groups()) if self.groups and org.groups() else {}
        request = in_force(stored, org, groups)
        now = self.clock()
        owed = deliveries.owed(delivery.kind, request, now)
        if owed is Owed.MOOT:
            await self.store.drop_delivery(delivery, now)
            return True
        if owed is Owed.WAIT:  # free for the sweep that finds the card posted
            await self.store.reschedule_delivery(delivery, delivery.due_at)
            return False
        if delivery.is_step:
            return await self._expand(delivery, request, org, groups, now)
        to = deliveries.addressed(delivery.recipient, request, org)
        if to is None:
            await self.store.drop_delivery(delivery, now)
            return True
        if delivery.kind in PREVIEW_POSTS:
            texts = await self._preview_posts(delivery, request)
            if not texts:
                await self.store.drop_delivery(delivery, now)
                return True
            return await self._post(delivery, request, to, texts)
        if not link and to.key != "thread":
            link.append(await self._link(request))
        texts = RENDERERS[delivery.kind](request, org, groups, to, link[0] if link else None)
        offered = None  # the requester's notice carries the Undo button while it is offered
        if delivery.kind is Kind.ANNOUNCED and to.key == "requester" and texts:
            offer = undo.offer(request, org.policy.undo_window_hours, now)
            offered = blocks.with_undo(texts[0], request, offer)
        return await self._post(delivery, request, to, texts, offered)

    async def _preview_posts(self, delivery: Delivery, request: Request) -> list[str]:
        """A post owed with a preview, from the preview its key names (and, for a drift, the
        one the approvals were given on); [] when there is none to render."""
        kept = await self.store.previews(request.id)
        seq = deliveries.preview_seq(delivery.recipient)
        stored = next((p for p in kept if p.seq == seq), None)
        if stored is None:
            return []
        if delivery.kind is Kind.PREVIEW_LISTED:
            return blocks.preview_thread(request, stored)
        if delivery.kind is Kind.PREVIEW_GONE:
            return [blocks.gone_notice(request, stored)] if gone(stored.preview) else []
        approved = approved_on([p for p in kept if p.seq < stored.seq])
        if approved is None:
            return []
        return [blocks.drift_line(request, changes(approved.preview, stored.preview))]

    async def _expand(
        self, step: Delivery, request: Request, org: Org, groups: Groups, now: float
    ) -> bool:
        """A step due: its recipients (the core's), each a delivery, with the step's event."""
        when = deliveries.step_due(step.kind, org, request, step.due_at)
        if when is None:
            await self.store.drop_delivery(step, now)
            return True
        if when > now:
            await self.store.reschedule_delivery(step, when)
            return True
        if step.kind is Kind.ANNOUNCED:
            failpoints.reached("before_announce")
        keys = [r.key for r in deliveries.recipients(step.kind, request, org, groups)]
        if not await self.store.expand_delivery(step, keys, now, {"to": keys}):
            return False
        if step.kind in (Kind.ESCALATED, Kind.REVIEW_ESCALATED):  # the card says so
            if self.notifier.syncing(request.id):
                # perhaps this very task's (its announcement expanding this step): waiting
                # for it would wait forever, so the card's next sync is queued behind it
                work = self.notifier.sync(request.id)
                self.background.spawn(work, name=f"escalated-{request.id}")
            else:
                await self.notifier.sync(request.id)
        return True

    async def _post(
        self,
        delivery: Delivery,
        request: Request,
        to: Recipient,
        texts: list[str],
        first_blocks: list[blocks.Block] | None = None,
    ) -> bool:
        first: Any = None
        try:
            async with self.pacer.turn(to.channel):  # a requester's DMs too: a burst draws one 429
                for text in texts:
                    posted = await self.slack.chat_postMessage(
                        channel=to.channel,
                        text=text,
                        thread_ts=to.thread_ts,
                        unfurl_links=False,
                        blocks=first_blocks if first is None else None,
                    )
                    first = posted if first is None else first
        except Exception as exc:
            return await self._refused(delivery, request, to, exc)
        if delivery.kind is Kind.ANNOUNCED:  # in the audit log, as every outcome post is
            await self.notifier.told(request.id, STEPS[to.key], first)
        ts = first.get("ts") if first is not None else None
        channel = str(first.get("channel") or to.channel) if first is not None else to.channel
        await self.store.delivered(delivery, channel, str(ts) if ts else None, self.clock())
        return True

    async def _refused(
        self, delivery: Delivery, request: Request, to: Recipient, exc: Exception
    ) -> bool:
        """Classified once: Slack's "later" waits with the rest of the step (backing off); a
        refusal for good is recorded and the step goes on, except an outcome's, which is
        retried (the requester told how to fix it, once), as the card is."""
        what = f"{delivery.kind.value} to {delivery.recipient}"
        refusal = classify(exc, f"<#{to.channel}>")
        now = self.clock()
        retry = now + self.lease_seconds * min(2**delivery.attempts, MAX_BACK_OFF)
        if delivery.kind.retries_refusals:
            if isinstance(exc, SlackApiError):
                await self.notifier.refused(request, STEPS[to.key], exc, to.channel)
            await self.store.delivery_refused(delivery, refusal.error, now, retry)
            return False
        if refusal.kind is Refusal.TRANSIENT or refusal.error in TOKEN:
            log.warning(
                "request %s: Slack did not take the %s (%s); trying again later",
                request.id,
                what,
                refusal.error,
            )
            await self.store.delivery_refused(delivery, refusal.error, now, retry)
            return False
        # never accepted, or an admin's to fix for this one post: the others still go
        log.warning(
            "request %s: Slack refused the %s (%s): %s",
            request.id,
            what,
            refusal.error,
            refusal.fix,
        )
        await self.store.delivery_refused(delivery, refusal.error, now, None)
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
        permalink = found.get("permalink")
        return str(permalink) if permalink else None
