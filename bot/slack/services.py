"""What the Slack listeners are handed: the running bot's parts, built once and whole by the
composition root (bot/wiring), and the Slack Web API client they share."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
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
from bot.config.settings import Settings
from bot.core.org import OrgsInForce
from bot.core.workflow import Workflow
from bot.observability.metrics import BotMetrics
from bot.observability.slack_calls import SlackCallCounter
from bot.sfvopi import SfvopiClient
from bot.slack.admission import Admission
from bot.slack.after_ack import AfterAck, Background, Work
from bot.slack.app_home import AppHome
from bot.slack.notifier import Notifier
from bot.slack.outbox import SlackOutbox
from bot.slack.pacing import ChannelPacer, PacedRateLimitRetryHandler
from bot.slack.sealing import Sealer
from bot.slack.usergroups import UserGroups
from bot.slack.workflow_steps import WorkflowSteps
from bot.store.roles import DoorStore


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
    counter: SlackCallCounter | None = None,
) -> AsyncWebClient:
    """A Web API client that rides out 429s (honouring Retry-After, and telling `pacer` which
    channel Slack refused a post to), 5xx and dropped connections; on `session`'s kept-alive
    connections when given one; every answer counted by `counter` first, when given one."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    pacer = pacer or channel_pacer(settings)
    handlers: list[AsyncRetryHandler] = [
        *([counter] if counter is not None else []),
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


@dataclass(frozen=True)
class Services:
    """The parts a listener may use, each built once by the root; none is replaced later."""

    settings: Settings
    store: DoorStore  # what the doors and listeners read; the root holds the whole store
    orgs: OrgsInForce  # the org file in force (swapped whole on reload)
    client: SfvopiClient
    workflow: Workflow
    slack: AsyncWebClient
    notifier: Notifier
    background: Background
    home: AppHome
    metrics: BotMetrics
    admission: Admission  # busy refusals under overload
    groups: UserGroups  # Slack user groups' members, for roles granted to groups
    outbox: SlackOutbox  # announcements, reminders, escalations, break-glass reviews
    steps: WorkflowSteps  # Workflow Builder steps, completed when requests end
    audit_sink: AuditSink | None  # SFVOPI_AUDIT_SINK's delivery (docs/audit.md)
    bot_user_id: str | None  # the bot's own user, from auth.test at start
    after_ack: AfterAck | None = None  # the Slack request being answered, if any

    def answering(self, after_ack: AfterAck | None) -> Services:
        """These parts as one Slack request's listeners use them: the work they start, and
        what a change they make starts, waits for `after_ack` (the door's, released once the
        ack is out). None: these parts themselves, starting work at once."""
        if after_ack is None:
            return self
        return replace(self, workflow=self.workflow.answering(after_ack), after_ack=after_ack)

    def spawn(self, work: Work, *, name: str) -> None:
        """Starts `work` once the request being answered has its ack (now, outside one)."""
        self.background.spawn(work, name=name, after_ack=self.after_ack)
