"""What each door serves, mounted by the root: the Slack routes (bot/slack/http.py) with
`/healthz`, `/metrics` and the HTTP API (`/api/v1`, bot/api) beside them; Socket Mode's
`/healthz` and `/metrics` on a port of their own. Each door runs until cancelled; the
sweepers start once it is open."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.api.routes import mount as mount_api
from bot.observability.exposition import metrics_handler
from bot.slack.health import Probe, healthz_response
from bot.slack.http import GUARD, start_http, web_app
from bot.slack.services import Services
from bot.slack.socket_mode import HealthServer, run_socket_mode
from bot.wiring.bootstrap import Bot

log = logging.getLogger(__name__)

# How long a Socket Mode health probe may keep an idle connection open.
HEALTH_KEEPALIVE = 5.0


def mount_operations(application: web.Application, services: Services, *probes: Probe) -> None:
    """`GET /healthz` for the load balancer and `GET /metrics` (no body, a cheap answer with
    no database read, behind the optional metrics token; never counted as a rejection)."""

    async def healthz(request: web.Request) -> web.Response:
        return await healthz_response(
            services.store, services.settings.metrics_token, request, *probes
        )

    application.router.add_get("/healthz", healthz)
    token = services.settings.metrics_token
    application.router.add_get("/metrics", metrics_handler(services.metrics, token))


def http_application(bot: Bot) -> web.Application:
    """The HTTP door's application: Slack's route, the operator's, and the HTTP API for tools
    that are not Slack (its own tokens), all behind one connection guard."""
    services = bot.services
    application = web_app(bot.app, services)
    mount_operations(application, services)
    mount_api(
        application,
        workflow=services.workflow,
        store=bot.store,
        registry=services.metrics.registry,
        working=application[GUARD].working,
        spawn=lambda work, name: services.background.spawn(work, name=name),
    )
    return application


async def serve_http(bot: Bot, *, host: str, port: int) -> None:
    """Runs until cancelled; recovery and the outbox run once at start, then on a timer."""
    http = await start_http(http_application(bot), host=host, port=port)
    bot.sweepers.start()
    log.info("sfvopi-bot listening on http://%s:%s/slack/events", host, http.port)
    try:
        await asyncio.Event().wait()
    finally:
        await http.close()


def health_server(services: Services, host: str, port: int) -> HealthServer:
    """Socket Mode's `/healthz` (with the door's WebSocket probe) and `/metrics` on host:port;
    no Slack request ever arrives there."""

    async def start(socket_problem: Probe) -> web.AppRunner:
        application = web.Application(handler_args={"keepalive_timeout": HEALTH_KEEPALIVE})
        mount_operations(application, services, socket_problem)
        runner = web.AppRunner(application, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        log.info("sfvopi-bot answers GET /healthz on http://%s:%s/healthz", host, port)
        return runner

    return start


async def run_socket(
    bot: Bot, *, health: tuple[str, int] | None = None, grace: float = 20.0
) -> None:
    """Socket Mode until cancelled, `/healthz` on `health` (host, port) when given."""
    await run_socket_mode(
        bot.app,
        bot.services,
        health=health_server(bot.services, *health) if health else None,
        connected=bot.sweepers.start,
        grace=grace,
    )
