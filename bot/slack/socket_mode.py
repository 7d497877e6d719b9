"""The Socket Mode front door: the same listeners over a WebSocket Slack opens for us.

No public URL is needed, but a container still wants probing: the composition root hands in
`health`, which serves `GET /healthz` (200 while the database answers and the WebSocket is
up) and `/metrics` with this door's WebSocket probe.

Stopping (the task is cancelled): envelopes that arrive from then on are left unacked, so
Slack sends them again to a connection still open; envelopes being answered get their acks,
then the WebSocket closes. The work those acks promised is the caller's to wait for
(`services.background`, see `bot.cli`). `connected` is called once the WebSocket is open
(the root starts its sweepers then).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.errors import ConfigError
from bot.observability.metrics import ack_kind
from bot.slack.admission import arrived
from bot.slack.after_ack import AFTER_ACK, AfterAck
from bot.slack.app import routable
from bot.slack.deliveries import first_delivery
from bot.slack.health import Probe
from bot.slack.services import Services

log = logging.getLogger(__name__)

# Serves /healthz with this door's probe until its runner is cleaned up (from the root).
HealthServer = Callable[[Probe], Awaitable[web.AppRunner]]


class _Door:
    """Counts the envelopes being answered; once closing, takes no new ones."""

    def __init__(self) -> None:
        self.closing = False
        self.busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> bool:
        if self.closing:
            return False
        self.busy += 1
        self._idle.clear()
        return True

    def leave(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            self._idle.set()

    async def close(self, timeout: float) -> None:
        """Takes no new envelopes and waits (bounded) for those being answered."""
        self.closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("%d Socket Mode envelope(s) still being answered at close", self.busy)


async def run_socket_mode(
    app: AsyncApp,
    services: Services,
    *,
    health: HealthServer | None = None,
    connected: Callable[[], None] = lambda: None,
    grace: float = 20.0,
) -> None:
    """Socket Mode until cancelled: the same listeners over a WebSocket Slack opens for us.

    `grace` bounds the wait for envelopes being answered when stopping."""
    app_token = services.settings.slack_app_token
    if app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)")
    client = SocketModeClient(app_token=app_token.get_secret_value(), web_client=services.slack)
    door = _Door()

    async def on_request(client: Any, req: SocketModeRequest) -> None:
        if not door.enter():
            return  # stopping: unacked, so Slack delivers it to a connection still open
        try:
            await _answer(app, services, client, req)
        finally:
            door.leave()

    async def socket_problem() -> str | None:
        if door.closing:
            return "stopping"
        if not await client.is_connected():
            return "Socket Mode not connected"
        return None

    client.socket_mode_request_listeners.append(on_request)
    probe = await health(socket_problem) if health else None
    try:
        try:
            # Asked once here, so a refused app token stops start-up with Slack's reason
            # instead of the client's endless "Failed to connect; Retrying..." tracebacks.
            opened = await services.slack.apps_connections_open(app_token=client.app_token)
            client.wss_uri = str(opened["url"])
        except SlackApiError as exc:
            raise ConfigError(
                f"SLACK_APP_TOKEN: Slack refused it ({exc.response.get('error')} from "
                "apps.connections.open)"
            ) from None
        await client.connect()  # type: ignore[no-untyped-call]
        connected()
        log.info("sfvopi-bot connected in Socket Mode")
        await asyncio.Event().wait()
    finally:
        await door.close(grace)
        await client.close()  # type: ignore[no-untyped-call]
        if probe is not None:
            await probe.cleanup()


async def _answer(app: Any, services: Services, client: Any, req: SocketModeRequest) -> None:
    """One envelope: dispatched with its follow-up work held, acked, then the work released."""
    started = time.perf_counter()
    after_ack = AfterAck(services.background)  # released below, once the ack is out
    bolt_response = BoltResponse(status=200, body="")  # for a retry, or what Bolt cannot route
    status: int | None = 200
    if not routable(req.payload):
        log.warning("ignored a Socket Mode envelope that is no command or click we know")
        status = None
    elif await first_delivery(services.store, req.payload):  # else handled already
        with arrived("socket_mode", started):  # a command's time runs from here
            bolt_response = await app.async_dispatch(
                AsyncBoltRequest(
                    mode="socket_mode", body=req.payload, context={AFTER_ACK: after_ack}
                )
            )
        status = bolt_response.status
    if status != 200:
        services.steps.unhandled(req.payload, status, after_ack)
    payload: dict[str, Any] | None = None
    if bolt_response.status == 200 and bolt_response.body:
        try:
            payload = json.loads(bolt_response.body)
        except ValueError:
            payload = {"text": bolt_response.body}
    try:
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
        )
        services.metrics.acked("socket_mode", ack_kind(req.type), time.perf_counter() - started)
    except Exception as exc:  # the socket dropped before the ack: the promised work still runs
        log.info("the Socket Mode ack could not be sent (%s); its work runs anyway", exc)
    finally:
        after_ack.release()
