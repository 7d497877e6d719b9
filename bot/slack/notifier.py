"""Tells Slack what the store says: posts and updates cards, then has the outbox announce
outcomes (bot/slack/outbox.py) once a card shows one.

It renders from the store, never from the event that woke it, so a late or repeated wake-up
shows the latest state; a lease in the store makes one replica post each card, and the
sweeper retries whatever a crash or a Slack outage left undone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core import failpoints, ids, undo
from bot.core.deliveries import reminder_steps, review_escalation
from bot.core.leases import held
from bot.core.models import Request, Status
from bot.core.org import Groups, Org, OrgsInForce, in_force
from bot.core.ports import GroupMembers
from bot.core.preview import StoredPreview
from bot.core.workflow import Deferral
from bot.observability.context import bind, request_scope
from bot.slack import blocks, break_glass
from bot.slack.after_ack import Background
from bot.slack.pacing import ChannelPacer
from bot.slack.refusals import Kind, classify
from bot.store.roles import CardStore

log = logging.getLogger(__name__)


RESPONSE_URL_LIFETIME = 30 * 60  # Slack takes posts to a command's response_url this long


class Notifier:
    def __init__(
        self,
        store: CardStore,
        slack: AsyncWebClient,
        orgs: OrgsInForce,
        background: Background,
        *,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        pacer: ChannelPacer | None = None,
        groups: GroupMembers | None = None,
        announce: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.slack = slack
        self.orgs = orgs
        self.groups = groups  # user groups' members, for the card's count
        self.background = background
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.pacer = pacer or ChannelPacer()
        # the outcome's announcement, once the card is up to date (bot/slack/outbox.py)
        self.announce = announce
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def changed(self, request: Request, after_ack: Deferral | None) -> None:
        """The workflow's listener: schedules a sync (after the ack, when the change came with
        one), never blocking the caller."""
        self.background.spawn(
            self.sync(request.id, fresh=request), name=f"sync-{request.id}", after_ack=after_ack
        )

    @request_scope
    async def sync(self, request_id: int, *, fresh: Request | None = None) -> None:
        """Brings Slack in line with the stored request; safe to call any number of times.

        `fresh` is the request as its change left it: one still without a card first waits
        for its channel's turn (bot/slack/pacing.py), so a card queued behind a burst costs
        nothing until it can be posted. A request just filed is rendered as filed, not read
        back: a change since is caught by the status the card's record returns, or by the
        change's own sync, queued behind this one; any other sync reads the store."""
        lock = self._locks.get(request_id)
        if lock is None:
            lock = self._locks[request_id] = asyncio.Lock()
        queued = lock.locked()
        async with lock:
            org = self.orgs.current.get(fresh.org) if fresh is not None else None
            if fresh is not None and fresh.card_ts is None and org is not None:
                async with self.pacer.turn(org.approval_channel):
                    just_filed = fresh.status is Status.PENDING and not fresh.approvals
                    known = fresh if just_filed and not queued else None
                    await self._sync(request_id, in_turn=True, known=known)
            else:
                await self._sync(request_id)

    def syncing(self, request_id: int) -> bool:
        """Whether this process is already bringing the request up to date (or queued to)."""
        lock = self._locks.get(request_id)
        return lock is not None and lock.locked()

    async def _sync(
        self, request_id: int, *, in_turn: bool = False, known: Request | None = None
    ) -> None:
        stored = known if known is not None else await self.store.get(request_id)
        if stored is None:
            return
        bind(org=stored.org)
        org = self.orgs.current.get(stored.org)
        request = self._in_force(stored, org)
        if request.card_ts is None:
            if org is None:
                return
            if in_turn:
                status = await self._post_card(request, org)
            else:
                async with self.pacer.turn(org.approval_channel) as waited:
                    if waited:  # it may have moved on while it queued
                        await self._sync(request_id, in_turn=True)
                        return
                    status = await self._post_card(request, org)
            if status is Status.PENDING and self.announce is not None:
                await self.announce(request_id)  # what its preview owes under the card
            if status is None or status is Status.PENDING:
                return  # not posted (told or left for the sweep), or nothing more to show
            stored = await self.store.get(request_id)
            assert stored is not None
            request = self._in_force(stored, org)
        try:
            await self._update_card(request)
        except Exception as exc:  # left in the outbox: the sweeper updates it, then announces
            await self.refused(request, "update", exc, request.card_channel or "")
            return
        if request.slack_problem is not None:
            await self.store.clear_slack_problem(request.id)
        if request.status.final and request.notified_at is None and self.announce is not None:
            await self.announce(request.id)  # the outbox's, now that the card shows it

    async def _post_card(self, request: Request, org: Org) -> Status | None:
        """Claims the card (one poster, even across replicas), posts it and records where; the
        request's status then, or None when this poster did not post it."""
        request_id = request.id
        if not await self.store.claim_card(request_id, self.clock(), self.lease_seconds):
            return None
        failpoints.reached("before_card")
        renew = functools.partial(self.store.renew_card, request_id)
        async with held(
            renew, lease_seconds=self.lease_seconds, clock=self.clock, what=f"card {request_id}"
        ):
            preview = await self._preview(request_id)
            try:
                posted = await self.slack.chat_postMessage(
                    channel=org.approval_channel,
                    text=_card_text(request),
                    blocks=self._card(request, preview),
                    unfurl_links=False,
                )
            except Exception as exc:
                await self.refused(request, "card", exc, org.approval_channel)
                return None
            failpoints.reached("after_card_posted")
            owed = [] if request.break_glass else reminder_steps(org, request)
            return await self.store.set_card(
                request_id, str(posted["channel"]), str(posted["ts"]), self.clock(), owed
            )

    async def _update_card(self, request: Request) -> None:
        assert request.card_channel and request.card_ts
        preview = await self._preview(request.id)
        await self.slack.chat_update(
            channel=request.card_channel,
            ts=request.card_ts,
            text=_card_text(request),
            blocks=self._card(request, preview),
        )

    async def _preview(self, request_id: int) -> StoredPreview | None:
        """What the card shows of SFVoPI; a store that cannot say leaves it off, the card
        still goes out (the next sync shows it)."""
        try:
            return await self.store.latest_preview(request_id)
        except Exception as exc:
            log.warning("request %s: could not read its preview (%s)", request_id, exc)
            return None

    def _in_force(self, stored: Request, org: Org | None) -> Request:
        return in_force(stored, org, self._known(org))

    def _known(self, org: Org | None) -> Groups:
        return self.groups.known(org.groups()) if org and org.groups() and self.groups else {}

    def _card(self, request: Request, preview: StoredPreview | None) -> list[blocks.Block]:
        """The card, with when and to whom it is escalated if nobody decides (the policy's),
        and what it touches as last read."""
        org = self.orgs.current.get(request.org)
        now = self.clock()
        offer = undo.offer(request, org.policy.undo_window_hours, now) if org else None
        if request.break_glass:
            escalation = review_escalation(org, request, self._known(org))
            return break_glass.card(request, **escalation, undo=offer, preview=preview)
        if org is None:
            return blocks.card(request, preview=preview)
        reminders = org.policy.reminders_for(request.action)
        return blocks.card(
            request,
            escalates_at=reminders.escalate_at(request.created_at),
            escalate_to=reminders.escalate_to,
            now=now,
            undo=offer,
            preview=preview,
            **_policy(org, request, self._known(org)),
        )

    async def refused(self, request: Request, step: str, exc: Exception, channel: str) -> None:
        """Slack refused a post: recorded (status and /healthz show it), retried by the sweeper,
        and the requester is told at once what is wrong and how to fix it (once per problem)."""
        where = f"<#{channel}>" if channel[:1] in ("C", "G") else "the conversation"
        refusal = classify(exc, where)
        problem = refusal.problem(step, channel)
        log.warning("request %s: Slack refused the %s (%s)", request.id, step, refusal.error)
        newly = await self.store.note_slack_problem(
            # an admin's fix is retried at the next sweep; a transient one once the lease lapses
            request.id,
            problem,
            self.clock(),
            release_card=step == "card" and refusal.kind is not Kind.TRANSIENT,
        )
        if newly and refusal.kind is not Kind.TRANSIENT and step != "notice":
            await self._warn_requester(request, blocks.slack_problem_notice(request, refusal, step))

    async def _warn_requester(self, request: Request, text: str) -> None:
        """A DM, or where the command was typed while Slack still takes it (the DM may be the
        very thing Slack refuses)."""
        if ids.is_service(request.requester):
            return  # an HTTP API client: /healthz and the request's state say it
        try:
            dm = await self.slack.chat_postMessage(channel=request.requester, text=text)
        except SlackApiError as exc:
            log.warning("request %s: could not DM the requester (%s)", request.id, exc)
        else:
            await self.told(request.id, "warning", dm)
            return
        fresh = request.response_url and self.clock() - request.created_at < RESPONSE_URL_LIFETIME
        if fresh and request.response_url:
            try:
                await AsyncWebhookClient(request.response_url, timeout=5).send_dict(
                    {"response_type": "ephemeral", "replace_original": False, "text": text}
                )
            except Exception as exc:
                log.warning("request %s: could not reach the requester (%s)", request.id, exc)

    async def told(self, request_id: int, step: str, posted: Any) -> None:
        """Records a post in the audit log (where, and its ts). A failed record is logged, not
        raised: the announcement goes on exactly as it would without the audit log."""
        if posted is None:
            return
        try:
            await self.store.record_slack_post(
                request_id, step, str(posted.get("channel") or ""), posted.get("ts"), self.clock()
            )
        except Exception as exc:
            log.warning(
                "request %s: could not record the %s post in the audit log (%s)",
                request_id,
                step,
                type(exc).__name__,
            )

    async def retire_duplicate(
        self,
        request: Request,
        channel: str,
        ts: str,
        message: object,
        bot_user_id: str | None,
    ) -> None:
        """A card clicked that is not the stored one was posted twice (a crash between Slack's
        answer and storing it): retire it, pointing at the live card, so no stale buttons stay.

        Only a message that is provably that request's card is touched: the store's own card
        is never retired, and the clicked message, as Slack reports it, must be ours, in the
        request's approval channel, and carry that request's buttons. `request` is as the
        click read it (its card's place does not change once recorded)."""
        request_id = request.id
        if request.card_ts is None or request.card_channel is None:
            return
        if (request.card_channel, request.card_ts) == (channel, ts):
            return
        if channel != request.card_channel or not _is_card_of(message, request_id, bot_user_id):
            log.info(
                "request %s: a click on a message that is not its card; left alone", request_id
            )
            return
        try:
            link = await self.slack.chat_getPermalink(
                channel=request.card_channel, message_ts=request.card_ts
            )
            where = f"<{link['permalink']}|the live card>"
        except SlackApiError:
            where = "the live card"
        try:
            await self.slack.chat_update(
                channel=channel,
                ts=ts,
                text=f"Duplicate card for request #{request_id}",
                blocks=blocks.retired_card(request, where),
            )
        except SlackApiError as exc:
            log.info("could not retire a duplicate card: %s", exc.response.get("error"))

    async def tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral to one person, e.g. why their click was refused."""
        try:
            await self.slack.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            log.warning("could not tell %s: %s", user, exc.response.get("error"))

    async def sweep(self) -> None:
        """Posts cards never posted and announces outcomes never told (a crash, a Slack outage)."""
        cards, untold = await self.store.outbox(self.clock())
        for request_id in cards + untold:
            if self.syncing(request_id):
                continue  # queued for its channel's turn, or under way: not waited on here
            try:
                await self.sync(request_id)
            except Exception:
                log.exception("request %s: could not bring Slack up to date", request_id)


def _card_text(request: Request) -> str:
    return break_glass.card_text(request) if request.break_glass else blocks.card_text(request)


def _is_card_of(message: object, request_id: int, bot_user_id: str | None) -> bool:
    """Whether a message (as Slack reports it in a click) is a card we posted for this request."""
    if not isinstance(message, dict) or bot_user_id is None or message.get("user") != bot_user_id:
        return False
    found = message.get("blocks")
    return isinstance(found, list) and any(
        isinstance(b, dict) and blocks.is_card_block_id(b.get("block_id"), request_id)
        for b in found
    )


def _policy(org: Org, request: Request, groups: Groups) -> dict[str, Any]:
    """The card's policy line and the teams the rules require, with who filled each (an org
    without rules: neither)."""
    ruled = org.policy.ruled_for(request)
    if ruled is None:
        return {}
    filled = ruled.filled(request.approvers, lambda u: org.role_of(u, groups), groups)
    summary = ruled.summary()
    if ruled.skipped and request.linked_numbers is None and request.status is Status.PENDING:
        named = ", ".join(r.label for r in ruled.skipped)
        summary += f" ({named}: passed over until a preview counts the numbers it would unlink)"
    return {
        "policy": summary,
        "requirements": [(n.text(), n.approvals, who) for n, who in filled],
        "in_order": ruled.in_order,
    }
