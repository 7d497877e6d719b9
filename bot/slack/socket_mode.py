"""The Socket Mode front door: the same listeners over a WebSocket Slack opens for us."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.errors import ConfigError
from bot.slack.app import build_app, routable
from bot.slack.services import Services

log = logging.getLogger(__name__)


async def run_socket_mode(services: Services) -> None:
    """Socket Mode: the same listeners over a WebSocket Slack opens for us; no public URL."""
    app_token = services.settings.slack_app_token
    if app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)")
    app = await build_app(services, socket_mode=True)
    client = SocketModeClient(app_token=app_token.get_secret_value(), web_client=services.slack)

    async def on_request(client: Any, req: SocketModeRequest) -> None:
        with services.background.holding() as held:
            if routable(req.payload):
                bolt_response = await app.async_dispatch(
                    AsyncBoltRequest(mode="socket_mode", body=req.payload)
                )
            else:
                log.warning("ignored a Socket Mode envelope that is no command or click we know")
                bolt_response = BoltResponse(status=200, body="")
        payload: dict[str, Any] | None = None
        if bolt_response.status == 200 and bolt_response.body:
            try:
                payload = json.loads(bolt_response.body)
            except ValueError:
                payload = {"text": bolt_response.body}
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
        )
        services.background.release(held)

    client.socket_mode_request_listeners.append(on_request)
    await client.connect()  # type: ignore[no-untyped-call]
    services.start_sweeper()
    log.info("sfvopi-bot connected in Socket Mode")
    try:
        await asyncio.Event().wait()
    finally:
        await client.close()  # type: ignore[no-untyped-call]
