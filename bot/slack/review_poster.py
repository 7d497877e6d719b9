"""Break-glass reviews in Slack: a review given is told in the card's thread and to the person
who broke glass; a review overdue is escalated, once, by the reminder rules (the policy's
`escalate_to`, else the approvers).

Who does each is the store's (a lease for telling, a claim for escalating, so one replica
does it however many sweep); each post is recorded as it lands, so a refusal or a crash is
retried by a later sweep without doubling what was sent. The card itself is the notifier's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.core import ids
from bot.core.models import Request, Review
from bot.core.org import Org, OrgsInForce
from bot.core.ports import GroupMembers
from bot.slack import break_glass
from bot.slack.after_ack import Background
from bot.slack.notifier import Notifier, review_escalation
from bot.slack.refusals import TOKEN, Kind, classify
from bot.slack.reminders import Post
from bot.store import Store
from bot.store.break_glass import TOLD_ALL

log = logging.getLogger(__name__)

THREAD, REQUESTER = 2, 4  # review_told bits (1 is left for the card, which the notifier keeps)


class ReviewPoster:
    def __init__(
        self,
        store: Store,
        slack: AsyncWebClient,
        orgs: OrgsInForce,
        notifier: Notifier,
        background: Background,
        groups: GroupMembers | None = None,
        *,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.slack = slack
        self.orgs = orgs
        self.notifier = notifier
        self.background = background
        self.groups = groups
        self.lease_seconds = lease_seconds
        self.clock = clock

    def changed(self, request: Request) -> None:
        """The workflow's listener: a review just given is told after the ack."""
        if request.break_glass and request.review in (Review.ACKNOWLEDGED, Review.FLAGGED):
            self.background.spawn(self.tell(request.id), name=f"review-{request.id}")

    async def sweep(self) -> None:
        """Escalates overdue reviews and tells reviews not told yet; never raises for one."""
        now = self.clock()
        for request_id in await self.store.overdue_reviews(now):
            try:
                await self.escalate(request_id)
            except Exception:
                log.exception("request %s: could not escalate its review", request_id)
        for request_id in await self.store.untold_reviews(now):
            try:
                await self.tell(request_id)
            except Exception:
                log.exception("request %s: could not tell its review", request_id)

    # -- telling a review ---------------------------------------------------------------

    async def tell(self, request_id: int) -> None:
        """The review in the card's thread and to the requester, each once."""
        done = await self.store.claim_review_told(request_id, self.clock(), self.lease_seconds)
        if done is None:
            return
        request = await self.store.get(request_id)
        if request is None:
            return
        await self.notifier.sync(request_id)  # the card shows the review (its own retries)
        posts: list[tuple[int, str, str, str | None]] = []
        if request.card_channel and request.card_ts:
            posts.append(
                (THREAD, request.card_channel, break_glass.review_thread(request), request.card_ts)
            )
        posts.append((REQUESTER, request.requester, break_glass.review_notice(request), None))
        for bit, channel, text, thread_ts in posts:
            if done & bit:
                continue
            try:
                await self.slack.chat_postMessage(
                    channel=channel, text=text, thread_ts=thread_ts, unfurl_links=False
                )
            except Exception as exc:
                refusal = classify(exc, f"<#{channel}>")
                if refusal.kind is Kind.TRANSIENT or refusal.error in TOKEN:
                    log.warning(
                        "request %s: Slack did not take the review (%s); trying again later",
                        request_id,
                        refusal.error,
                    )
                    return  # the lease lapses; a later sweep sends what is missing
                log.warning(
                    "request %s: Slack refused the review to %s (%s): %s",
                    request_id,
                    channel,
                    refusal.error,
                    refusal.fix,
                )
            await self.store.mark_review_told(
                request_id, bit, lease_until=self.clock() + self.lease_seconds
            )
        await self.store.mark_review_told(request_id, TOLD_ALL)

    # -- escalating an overdue review ---------------------------------------------------

    async def escalate(self, request_id: int) -> None:
        """Claims the escalation (or takes over one left half-posted) and posts it."""
        request = await self.store.get(request_id)
        org = self.orgs.current.get(request.org) if request else None
        if request is None or org is None or request.review is not Review.PENDING:
            return
        posts = self._posts(request, org, None)
        if request.review_escalated:
            sent = await self.store.resume_review_escalation(
                request_id, self.clock(), self.lease_seconds
            )
            if sent is None:
                return
        else:
            detail: dict[str, object] = {"to": [p.key for p in posts]}
            if not await self.store.claim_review_escalation(
                request_id, self.clock(), self.lease_seconds, detail
            ):
                return
            sent = []
            await self.notifier.sync(request_id)  # the card says it was escalated
        posts = self._posts(request, org, await self._link(request))
        if await self._send(request, posts, set(sent)):
            await self.store.finish_review_escalation(request_id)

    def _posts(self, request: Request, org: Org, link: str | None) -> list[Post]:
        """The thread first (mentioning whom it goes to), then each channel and person of
        `escalate_to`; with none named, each approver who may review it, privately."""
        assert request.card_channel and request.card_ts
        groups = self.groups.known(org.groups()) if self.groups and org.groups() else {}
        named = review_escalation(org, request, groups)
        to: tuple[str, ...] = tuple(named["escalate_to"])
        mentioned = list(to) or list(named["approvers"])
        posts = [
            Post(
                "thread",
                request.card_channel,
                break_glass.escalation_thread(request, mentioned),
                request.card_ts,
            )
        ]
        post = break_glass.escalation_post(request, link)
        if to:
            posts += [Post(f"channel:{c}", c, post) for c in to if ids.CHANNEL_ID.fullmatch(c)]
            posts += [Post(f"dm:{u}", u, post) for u in to if ids.USER_ID.fullmatch(u)]
        else:
            reviewers = [u for u in org.approvers(groups) if u != request.requester]
            posts += [Post(f"dm:{u}", u, post) for u in reviewers]
        return posts

    async def _send(self, request: Request, posts: list[Post], sent: set[str]) -> bool:
        """Posts what was not sent yet; False when Slack should be asked again later, or the
        review was given meanwhile (nothing more is sent)."""
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
                        "request %s: Slack did not take the review escalation to %s (%s)",
                        request.id,
                        post.key,
                        refusal.error,
                    )
                    return False
                log.warning(
                    "request %s: Slack refused the review escalation to %s (%s): %s",
                    request.id,
                    post.key,
                    refusal.error,
                    refusal.fix,
                )
                refused = refusal.error
            now = self.clock()
            if not await self.store.mark_review_escalation_sent(
                request.id, post.key, now, now + self.lease_seconds, refused
            ):
                return False
        return True

    async def _link(self, request: Request) -> str | None:
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
