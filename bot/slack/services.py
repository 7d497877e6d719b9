"""Everything a running bot holds, built once from settings and handed to the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
from pydantic import SecretStr
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.sink import AuditSink
from bot.config.orgfile import load_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory
from bot.core.workflow import Workflow
from bot.observability.metrics import BotMetrics
from bot.observability.slack_calls import SlackCallCounter
from bot.runtime import close_workflow, start_workflow
from bot.sfvopi import SfvopiClient
from bot.slack.admission import Admission
from bot.slack.after_ack import Background
from bot.slack.app_home import AppHome
from bot.slack.notifier import Notifier
from bot.slack.outbox import SlackOutbox
from bot.slack.pacing import ChannelPacer, PacedRateLimitRetryHandler
from bot.slack.sealing import Sealer
from bot.slack.usergroups import UserGroups
from bot.slack.workflow_steps import WorkflowSteps
from bot.store import Store

log = logging.getLogger(__name__)


class KeptAliveSession:
    """One aiohttp session for every Slack call (slack-sdk, given none, opens a session and a
    connection per call), each call still bounded by its client's `timeout` at the time, as
    slack-sdk's own per-call sessions are (it applies no timeout to a session it is given)."""

    def __init__(self) -> None:
        self._session = aiohttp.ClientSession()
        self.client: AsyncWebClient | None = None  # whose timeout bounds each call

    @property
    def closed(self) -> bool:
        return self._session.closed

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        seconds = self.client.timeout if self.client is not None else 30
        return self._session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=seconds), **kwargs
        )

    async def close(self) -> None:
        await self._session.close()


def slack_client(
    settings: Settings,
    pacer: ChannelPacer | None = None,
    *,
    session: KeptAliveSession | None = None,
) -> AsyncWebClient:
    """A Web API client that rides out 429s (honouring Retry-After, and telling `pacer` which
    channel Slack refused a post to), 5xx and dropped connections; on `session`'s kept-alive
    connections when given one."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    pacer = pacer or channel_pacer(settings)
    handlers: list[AsyncRetryHandler] = [
        PacedRateLimitRetryHandler(pacer, max_retry_count=3),
        AsyncConnectionErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    client = AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=handlers,
        session=cast(aiohttp.ClientSession, session),  # duck-typed: closed, request()
    )
    if session is not None:
        session.client = client
    return client


def channel_pacer(settings: Settings) -> ChannelPacer:
    """Posts to each channel one at a time, paced once Slack answers 429 (bot/slack/pacing.py);
    one per running bot, shared by its Slack client and its notifier."""
    return ChannelPacer(interval=settings.slack_post_interval_seconds)


def sealer(settings: Settings) -> Sealer:
    """Seals what the bot keeps of Slack's secrets at rest, keyed by a secret every replica
    shares: the signing secret (HTTP), else the app token (Socket Mode), else the bot token."""
    secret = settings.slack_signing_secret or settings.slack_app_token or settings.slack_bot_token
    return Sealer(secret or SecretStr(secrets.token_urlsafe(32)))


@dataclass
class Services:
    settings: Settings
    store: Store
    orgs: OrgDirectory
    client: SfvopiClient
    workflow: Workflow
    slack: AsyncWebClient
    notifier: Notifier
    background: Background
    home: AppHome
    metrics: BotMetrics = field(default_factory=BotMetrics)
    admission: Admission = field(default_factory=Admission)  # busy refusals under overload
    bot_user_id: str | None = None  # set by build_app from auth.test
    groups: UserGroups | None = None  # Slack user groups' members, for roles granted to groups
    outbox: SlackOutbox | None = None  # announcements, reminders, escalations, reviews
    audit_sink: AuditSink | None = None  # SFVOPI_AUDIT_SINK's delivery (docs/audit.md)
    steps: WorkflowSteps | None = None  # Workflow Builder steps, completed when requests end
    _sweeper: asyncio.Task[None] | None = field(default=None, repr=False)
    _group_refresher: asyncio.Task[None] | None = field(default=None, repr=False)
    _audit_delivery: asyncio.Task[None] | None = field(default=None, repr=False)
    _slack_session: KeptAliveSession | None = field(default=None, repr=False)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        orgs: OrgDirectory | None = None,
        slack: AsyncWebClient | None = None,
    ) -> Services:
        """Opens the store (creating or upgrading its schema) and wires the parts together."""
        orgs = orgs if orgs is not None else load_orgs(settings.orgs_file)
        workflow = await start_workflow(settings, orgs=orgs)
        store, client = workflow.store, workflow.client
        assert isinstance(store, Store)
        background = Background()
        pacer = channel_pacer(settings)
        slack_session = None
        if slack is None:  # kept-alive connections to Slack, closed with the services
            slack_session = KeptAliveSession()
            slack = slack_client(settings, pacer, session=slack_session)
        notifier = Notifier(
            store, slack, orgs, background, lease_seconds=settings.lease_seconds, pacer=pacer
        )
        workflow.subscribe(notifier.changed)
        metrics = BotMetrics(orgs.orgs)
        # first of the handlers, so every Slack call is counted, Bolt's per-request clients' too
        slack.retry_handlers.insert(0, SlackCallCounter(metrics))
        client.observer = metrics.sfvopi_request
        workflow.subscribe(metrics.changed)
        app_home = AppHome(store, workflow, slack, background)
        workflow.subscribe(app_home.changed)
        groups = UserGroups(slack)
        workflow.groups = notifier.groups = groups
        parts = (settings, store, orgs, client, workflow, slack, notifier, background, app_home)
        audit_sink = AuditSink.from_settings(store, settings)
        steps = WorkflowSteps(
            store,
            workflow,
            slack,
            background,
            sealer(settings),
            lease_seconds=settings.lease_seconds,
        )
        workflow.subscribe(steps.changed)
        outbox = SlackOutbox(
            store, slack, orgs, notifier, background, groups, lease_seconds=settings.lease_seconds
        )
        workflow.subscribe(outbox.changed)
        notifier.announce = outbox.announce
        admission = Admission(settings.command_budget_seconds)
        workflow.filing_gate = admission.late_guard
        return cls(
            *parts,
            admission=admission,
            metrics=metrics,
            groups=groups,
            audit_sink=audit_sink,
            steps=steps,
            outbox=outbox,
            _slack_session=slack_session,
        )

    async def reload_orgs(self, orgs: OrgDirectory) -> None:
        """The org file in force from now on, everywhere; requests that may no longer run are
        cancelled and every pending card shows what it needs now."""
        self.orgs = orgs
        self.workflow.reload_orgs(orgs)
        self.notifier.orgs = orgs
        if self.outbox is not None:
            self.outbox.orgs = orgs
        self.metrics.orgs = frozenset(orgs.orgs)
        await self.workflow.enforce_org_file()
        for request in await self.store.list_requests(
            orgs=list(orgs.orgs), statuses=[Status.PENDING], limit=500
        ):
            self.background.spawn(self.notifier.sync(request.id), name=f"sync-{request.id}")

    def start_sweeper(self) -> None:
        """Expiry, crash recovery and the Slack outbox, on a timer; safe on every replica."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        if self._audit_delivery is None and self.audit_sink is not None:
            self._audit_delivery = asyncio.get_running_loop().create_task(self.audit_sink.run())
        if self._group_refresher is None and self.groups is not None:
            self._group_refresher = asyncio.get_running_loop().create_task(
                self.groups.keep_fresh(lambda: self.orgs.groups())
            )

    async def sweep_once(self) -> None:
        await self.workflow.sweep()
        await self.notifier.sweep()
        if self.outbox is not None:
            await self.outbox.sweep()
        if self.steps is not None:
            await self.steps.sweep()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                with self.metrics.sweeping():
                    await self.sweep_once()
            except Exception:
                log.exception("sweep failed; trying again later")
            await self.metrics.refresh(self.store)
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def close(self) -> None:
        for task in (self._sweeper, self._group_refresher, self._audit_delivery):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.groups is not None:
            await self.groups.close()
        await self.background.drain()
        if self.audit_sink is not None:
            await self.audit_sink.close()
        if self._slack_session is not None:
            await self._slack_session.close()
        await close_workflow(self.workflow)
