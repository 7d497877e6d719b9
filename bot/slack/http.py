"""The HTTP front door: `POST /slack/events` (signed by Slack) and `GET /healthz`.

It answers Slack first and only then starts the work the answer promised (see after_ack.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.app import build_app, routable
from bot.slack.services import Services

log = logging.getLogger(__name__)


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
