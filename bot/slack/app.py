"""The Bolt app and its two front doors: an HTTP server and a Socket Mode connection.

Both answer Slack first and only then start the work the answer promised (see background.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

import handlers
from bot.config.settings import Settings
from bot.slack.services import Services

log = logging.getLogger(__name__)


def check_slack_settings(settings: Settings, *, socket_mode: bool) -> None:
    """The Slack secrets each mode needs; checked before anything is opened or created."""
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    if socket_mode and settings.slack_app_token is None:
        raise ValueError("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)")
    if not socket_mode and settings.slack_signing_secret is None:
        raise ValueError("SLACK_SIGNING_SECRET is not set")


async def build_app(services: Services, *, socket_mode: bool = False) -> AsyncApp:
    """Checks the bot token once at start (auth.test), so no request waits on it later."""
    settings = services.settings
    check_slack_settings(settings, socket_mode=socket_mode)
    assert settings.slack_bot_token is not None
    identity = await services.slack.auth_test()
    token = settings.slack_bot_token.get_secret_value()

    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=identity.get("enterprise_id"),
            team_id=identity.get("team_id"),
            bot_token=token,
            bot_id=identity.get("bot_id"),
            bot_user_id=identity.get("user_id"),
        )

    secret = settings.slack_signing_secret
    with _quiet(logging.getLogger("slack_bolt.AsyncApp")):
        app = AsyncApp(
            client=services.slack,
            signing_secret=secret.get_secret_value() if secret else None,
            authorize=authorize,
            process_before_response=True,
            request_verification_enabled=not socket_mode,
            raise_error_for_unhandled_request=False,
        )
    handlers.register(app, services)
    return app


class _TokenIgnoredFilter(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN "will be ignored" when `authorize` is given; here that
    is by design (the token is checked once at start), and a 3 a.m. reader needs no red herring.
    A filter, because Bolt resets its logger's level from the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be ignored" not in record.getMessage()


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    quiet = _TokenIgnoredFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


SIGNATURE_MAX_AGE = 5 * 60


def signed_by_slack(secret: str | None, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature over the raw bytes (slack-sdk's verifier wants UTF-8 text)."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if secret is None or not stamp.isascii() or not stamp.strip().isdigit():
        return False
    if abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def routable(body: object) -> bool:
    """Whether Bolt can route this body: its matchers index `actions[0]["action_id"]` unguarded."""
    if not isinstance(body, dict):
        return False
    actions = body.get("actions")
    if actions is None and body.get("type") != "block_actions":
        return True
    return (
        isinstance(actions, list)
        and len(actions) > 0
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    )


def web_app(app: AsyncApp, services: Services) -> web.Application:
    """`POST /slack/events` for commands and clicks, `GET /healthz` for the load balancer."""
    secret = services.settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret else None

    async def unusable(request: web.Request, status: int | None) -> web.Response:
        """A body Bolt could not parse or route (not JSON, no actions, …): 401 unless signed,
        else an empty 200 that changes nothing, so Slack never shows its user an error."""
        if not signed_by_slack(signing_secret, await request.read(), request.headers):
            return web.json_response({"error": "invalid request"}, status=401)
        log.warning("ignored a signed request that is no command or click we know (%s)", status)
        return web.Response(status=200)

    async def to_bolt_request(request: web.Request) -> AsyncBoltRequest | None:
        """Slack signs bytes and sends UTF-8, whatever charset a Content-Type claims."""
        raw = await request.read()
        try:
            return AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except Exception:  # not UTF-8, or whatever Bolt's parser raises for a non-payload
            return None

    async def events(request: web.Request) -> web.StreamResponse:
        with services.background.holding() as held:
            bolt_request = await to_bolt_request(request)
            if bolt_request is not None and not routable(bolt_request.body):
                bolt_request = None
            answer = await app.async_dispatch(bolt_request) if bolt_request else None
            if answer is None or answer.status not in (200, 401):
                response: web.StreamResponse = await unusable(
                    request, answer.status if answer else None
                )
            else:
                response = await to_aiohttp_response(answer)
        await response.prepare(request)
        await response.write_eof()
        services.background.release(held)
        return response

    async def healthz(_request: web.Request) -> web.Response:
        if await services.store.ping():
            return web.json_response({"ok": True})
        return web.json_response({"ok": False, "error": "database unreachable"}, status=503)

    web_application = web.Application(client_max_size=1024 * 1024)
    web_application.router.add_post("/slack/events", events)
    web_application.router.add_get("/healthz", healthz)
    return web_application


async def serve(services: Services, *, host: str, port: int) -> None:
    """Runs until cancelled; recovery and the outbox run once at start, then on a timer."""
    app = await build_app(services)
    runner = web.AppRunner(web_app(app, services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    services.start_sweeper()
    log.info("sfvopi-bot listening on http://%s:%s/slack/events", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def run_socket_mode(services: Services) -> None:
    """Socket Mode: the same listeners over a WebSocket Slack opens for us; no public URL."""
    app_token = services.settings.slack_app_token
    if app_token is None:
        raise ValueError("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)")
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
