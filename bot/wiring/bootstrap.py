"""The composition root: every part of a running bot built once, whole, from settings.

Nothing here decides anything; it only says which part gets which. No part is mutated after
it is built: the org file in force is one holder (`OrgsInForce`) every part reads through and
a reload swaps; the workflow's ports (user groups, Slack's admission) are constructor
arguments; the sweepers are one list, started and stopped together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.sink import AuditSink
from bot.config.orgfile import load_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.org import OrgDirectory, OrgsInForce
from bot.observability.metrics import BotMetrics
from bot.observability.slack_calls import SlackCallCounter
from bot.runtime import close_workflow, open_store, sfvopi_client, workflow
from bot.slack.admission import Admission
from bot.slack.after_ack import Background
from bot.slack.app import Identity, build_app, who_we_are
from bot.slack.app_home import AppHome
from bot.slack.notifier import Notifier
from bot.slack.outbox import SlackOutbox
from bot.slack.pacing import ChannelPacer
from bot.slack.services import (
    KeptAliveSession,
    Services,
    channel_pacer,
    sealer,
    slack_client,
)
from bot.slack.usergroups import UserGroups
from bot.slack.workflow_steps import WorkflowSteps
from bot.store import Store
from bot.wiring.sweepers import Sweepers


@dataclass(frozen=True)
class Bot:
    """One running bot: what its listeners are handed, its Bolt app, its sweepers."""

    orgs: OrgsInForce
    store: Store  # whole here, in the root; each part was handed only its role of it
    services: Services
    app: AsyncApp
    sweepers: Sweepers
    _slack_session: KeptAliveSession

    async def reload_orgs(self, directory: OrgDirectory) -> None:
        """The org file in force from now on, everywhere at once; requests that may no longer
        run are closed (denied, or cancelled) and every pending card shows what it needs now."""
        self.orgs.swap(directory)
        services = self.services
        await services.workflow.enforce_org_file()
        for request in await self.store.list_requests(
            orgs=list(directory.orgs), statuses=[Status.PENDING], limit=500
        ):
            services.background.spawn(services.notifier.sync(request.id), name=f"sync-{request.id}")

    async def sweep_once(self) -> None:
        await self.sweepers.sweep_once()

    async def close(self) -> None:
        services = self.services
        await self.sweepers.stop()
        await services.groups.close()
        await services.background.drain()
        if services.audit_sink is not None:
            await services.audit_sink.close()
        await self._slack_session.close()
        await close_workflow(services.workflow)


async def bootstrap(
    settings: Settings,
    *,
    orgs: OrgDirectory | None = None,
    store: Store | None = None,
    socket_mode: bool = False,
    clock: Callable[[], float] = time.time,
) -> Bot:
    """Opens the store (creating or upgrading its schema) unless given one (then it is the
    bot's to close), checks who the bot is at Slack, and wires the parts together; `clock`
    is the workflow's (a test's moves, to reach a deadline without waiting)."""
    in_force = OrgsInForce(orgs if orgs is not None else load_orgs(settings.orgs_file))
    store = store if store is not None else await open_store(settings)
    metrics = BotMetrics(lambda: in_force.current.orgs.keys())
    pacer = channel_pacer(settings)
    session = KeptAliveSession()  # kept-alive connections to Slack, closed with the bot
    # the counter first of the handlers, so every Slack call is counted, Bolt's too
    slack = slack_client(settings, pacer, session=session, counter=SlackCallCounter(metrics))
    try:
        identity = await who_we_are(settings, slack, socket_mode=socket_mode)
    except BaseException:
        await session.close()
        await store.close()
        raise
    parts = _Parts(in_force, store, metrics, pacer, session, slack, clock)
    return _assemble(settings, parts, identity)


@dataclass(frozen=True)
class _Parts:
    """What `bootstrap` opened or chose before the rest is wired to it."""

    in_force: OrgsInForce
    store: Store
    metrics: BotMetrics
    pacer: ChannelPacer
    session: KeptAliveSession
    slack: AsyncWebClient
    clock: Callable[[], float]


def _assemble(settings: Settings, parts: _Parts, identity: Identity) -> Bot:
    in_force, store, metrics, pacer = parts.in_force, parts.store, parts.metrics, parts.pacer
    session, slack = parts.session, parts.slack
    lease = settings.lease_seconds
    background = Background()
    groups = UserGroups(slack)
    admission = Admission(settings.command_budget_seconds)
    client = sfvopi_client(settings, observer=metrics.sfvopi_request)
    flow = workflow(
        settings, store, in_force, client, groups=groups, admission=admission, clock=parts.clock
    )
    notifier = Notifier(
        store,
        slack,
        in_force,
        background,
        lease_seconds=lease,
        pacer=pacer,
        groups=groups,
        # the card first, then what is owed under it: the outbox, built next, announces
        announce=lambda request_id: outbox.announce(request_id),
    )
    outbox = SlackOutbox(
        store, slack, in_force, notifier, background, groups, pacer=pacer, lease_seconds=lease
    )
    home = AppHome(store, flow, slack, background)
    steps = WorkflowSteps(store, flow, slack, background, sealer(settings), lease_seconds=lease)
    flow.subscribe(notifier.changed)
    flow.subscribe(lambda request, _after_ack: metrics.changed(request))  # counts, sends nothing
    for listener in (home.changed, steps.changed, outbox.changed):
        flow.subscribe(listener)
    # a request just filed: its preview read after the ack, the card updated with it
    flow.subscribe(
        lambda request, after_ack: flow.binding.after_filing(
            request, partial(background.spawn, after_ack=after_ack)
        )
    )
    audit_sink = AuditSink.from_settings(store, settings)
    services = Services(
        settings=settings,
        store=store,
        orgs=in_force,
        client=client,
        workflow=flow,
        slack=slack,
        notifier=notifier,
        background=background,
        home=home,
        metrics=metrics,
        admission=admission,
        groups=groups,
        outbox=outbox,
        steps=steps,
        audit_sink=audit_sink,
        bot_user_id=identity.get("user_id"),
    )
    sweepers = Sweepers(
        # in this order on each pass: the workflow's own first, then what Slack is told
        (flow.sweep, flow.binding.sweep, notifier.sweep, outbox.sweep, steps.sweep),
        interval=settings.sweep_interval_seconds,
        metrics=metrics,
        source=store,
        loops=(
            *([audit_sink.run] if audit_sink is not None else []),
            lambda: groups.keep_fresh(lambda: in_force.current.groups()),
        ),
    )
    return Bot(in_force, store, services, build_app(services, identity), sweepers, session)
