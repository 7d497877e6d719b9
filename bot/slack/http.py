"""The HTTP front door: `POST /slack/events` (signed by Slack), behind a guarded listener. The
composition root (bot/wiring/web.py) mounts `/healthz`, `/metrics` and the HTTP API
(`/api/v1`) beside it on the same application.

It faces the internet, so a request is judged before anything else happens to it: the
signature headers first, then the body is read (bounded, under a deadline) and its HMAC
checked over the raw bytes; only then is it parsed, and only then does Bolt see it. A refusal
is a 401 and a count, never a log line carrying anything the stranger sent (limits.py).

It answers Slack first and only then starts the work the answer promised: each request's
`AfterAck`, handed to Bolt in the request's context, is released once the ack is written
(see after_ack.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.bounded import read_bounded
from bot.errors import RejectedRequest
from bot.observability.metrics import ack_kind
from bot.slack.admission import arrived
from bot.slack.after_ack import AFTER_ACK, AfterAck
from bot.slack.app import routable
from bot.slack.bodies import parse_body
from bot.slack.deliveries import challenge, first_delivery
from bot.slack.limits import (
    BODY_TIMEOUT,
    LINGERING_TIME,
    MAX_BODY_BYTES,
    REQUEST_TIMEOUT,
    ConnectionGuard,
    MalformedHttpFilter,
    RejectionLog,
)
from bot.slack.services import Services

log = logging.getLogger(__name__)


SIGNATURE_MAX_AGE = 5 * 60
STAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
_STAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

GUARD = web.AppKey("sfvopi_connection_guard", ConnectionGuard)
REJECTIONS = web.AppKey("sfvopi_rejections", RejectionLog)


def _mac(secret: str, stamp: str, body: bytes) -> str:
    base = b"v0:" + stamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def header_problem(secret: str | None, headers: Mapping[str, str]) -> str | None:
    """Why the signature headers cannot be Slack's (checked before the body is read), or None."""
    stamp = headers.get(STAMP_HEADER, "")
    if secret is None:
        return "no signing secret"
    if not _STAMP.fullmatch(stamp) or not _SIGNATURE.fullmatch(headers.get(SIGNATURE_HEADER, "")):
        return "malformed signature headers"
    if abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE:
        return "stale timestamp"
    return None


def signed_by_slack(secret: str | None, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature over the raw bytes (slack-sdk's verifier wants UTF-8 text)."""
    if secret is None or header_problem(secret, headers) is not None:
        return False
    expected = _mac(secret, headers[STAMP_HEADER], body)
    return hmac.compare_digest(expected, headers[SIGNATURE_HEADER])


async def read_body(request: web.BaseRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, at most `limit` bytes buffered, within BODY_TIMEOUT."""
    return await read_bounded(request, limit, BODY_TIMEOUT)


async def read_signed(request: web.BaseRequest, secret: str | None) -> bytes:
    """The raw body of a request Slack signed; `RejectedRequest` before parsing anything else."""
    problem = header_problem(secret, request.headers)
    if problem is not None:
        raise RejectedRequest(401, problem)
    assert secret is not None
    body = await read_body(request)
    if not signed_by_slack(secret, body, request.headers):
        raise RejectedRequest(401, "bad signature")
    return body


def bolt_request(
    raw: bytes, request: web.BaseRequest, after_ack: AfterAck
) -> AsyncBoltRequest | None:
    """The verified request as Bolt takes it, parsed by us (bodies.py), carrying the work its
    listeners start until the ack is out; None when it is no shape Slack sends."""
    body = parse_body(raw, request.headers.get("Content-Type"))
    if body is None:
        return None
    headers: dict[str, str | Sequence[str]] = {}
    for name in request.headers:
        headers[name.lower()] = request.headers.getall(name)
    # Bolt takes a parsed body only in its socket_mode constructor; the request is HTTP's.
    verified = AsyncBoltRequest(
        body=body,
        query=request.query_string,
        headers=headers,
        context={AFTER_ACK: after_ack},
        mode="socket_mode",
    )
    verified.mode = "http"
    return verified


async def answer_signed(
    app: AsyncApp, services: Services, verified: AsyncBoltRequest | None, after_ack: AfterAck
) -> web.StreamResponse:
    """The answer to a request known to be Slack's: a URL check's challenge, nothing for an
    event already handled (a retry), else Bolt's answer (a step's event Bolt did not handle
    fails its step, after the ack)."""
    if verified is not None:
        asked = challenge(verified.body)
        if asked is not None:
            return web.json_response({"challenge": asked}) if asked else web.Response(status=200)
        if not await first_delivery(services.store, verified.body):
            return web.Response(status=200)
    answer = await app.async_dispatch(verified) if verified else None
    if answer is None or answer.status != 200:
        # A signed body Bolt could not parse or route (not JSON, no actions, …): an empty 200
        # that changes nothing, so Slack never shows its user an error.
        if verified is not None:
            status = answer.status if answer else None
            services.steps.unhandled(verified.body, status, after_ack)
        log.warning(
            "ignored a signed request that is no command or click we know (%s)",
            answer.status if answer else None,
        )
        return web.Response(status=200)
    return await to_aiohttp_response(answer)


def web_app(app: AsyncApp, services: Services) -> web.Application:
    """`POST /slack/events` for commands, clicks and events; the routes the root mounts beside
    it share the application's middleware (the ConnectionGuard `start_http` uses, which a
    route marks `working` once it is past its own checks) and its RejectionLog."""
    secret = services.settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret else None
    guard = ConnectionGuard()
    rejections = RejectionLog()

    async def events(request: web.Request) -> web.StreamResponse:
        """Commands, clicks, view submissions and Events API deliveries, all signed."""
        started = time.perf_counter()
        try:
            raw = await read_signed(request, signing_secret)
        except RejectedRequest as rejected:
            rejections.note(rejected.message)
            refusal = web.json_response({"error": "invalid request"}, status=rejected.status)
            refusal.force_close()
            return refusal
        assert signing_secret is not None
        guard.working(request)
        after_ack = AfterAck(services.background)  # released below, once the ack is out
        verified = bolt_request(raw, request, after_ack)
        if verified is not None and not routable(verified.body):
            services.steps.unhandled(verified.body, None, after_ack)
            verified = None
        with arrived("http", started):  # a command's time runs from here (admission.py)
            response = await answer_signed(app, services, verified, after_ack)
        try:
            await response.prepare(request)
            await response.write_eof()
            kind = ack_kind(verified.body if verified else None)
            services.metrics.acked("http", kind, time.perf_counter() - started)
        except (ConnectionError, RuntimeError) as exc:
            # Slack (or the network) dropped the connection before reading the ack. The work
            # the handler promised was decided and stored already: it runs all the same.
            log.info("the ack could not be written (%s); its work runs anyway", type(exc).__name__)
        finally:
            after_ack.release()
        return response

    async def stop_counting(_app: web.Application) -> None:
        rejections.close()

    web_application = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[guard.middleware()],
        # aiohttp's own knobs, for every server of this app (tests' in-process ones too): the
        # keep-alive timer also closes a connection that has not sent whole headers in time;
        # bodies are signed as sent, so never decompressed; header sizes stay aiohttp's
        # (8190-byte lines and fields, 128 headers).
        handler_args={
            "keepalive_timeout": REQUEST_TIMEOUT,
            "lingering_time": LINGERING_TIME,
            "auto_decompress": False,
        },
    )
    web_application[GUARD] = guard
    web_application[REJECTIONS] = rejections
    web_application.on_cleanup.append(stop_counting)
    web_application.router.add_post("/slack/events", events)
    return web_application


@dataclass
class HttpServer:
    """A running front door: aiohttp's runner behind a guarded listening socket."""

    runner: web.AppRunner
    listener: asyncio.Server
    port: int
    guard: ConnectionGuard
    _quiet: MalformedHttpFilter

    async def close(self) -> None:
        self.listener.close()
        await self.runner.cleanup()
        await self.listener.wait_closed()
        logging.getLogger("aiohttp.server").removeFilter(self._quiet)


async def start_http(web_application: web.Application, *, host: str, port: int) -> HttpServer:
    """Listens on host:port with the app's ConnectionGuard wrapped around every connection
    (aiohttp's TCPSite has no connection cap or header deadline of its own)."""
    runner = web.AppRunner(web_application, access_log=None)
    await runner.setup()
    server = runner.server
    assert server is not None
    guard = web_application[GUARD]
    quiet = MalformedHttpFilter(web_application[REJECTIONS])
    logging.getLogger("aiohttp.server").addFilter(quiet)
    try:
        listener = await asyncio.get_running_loop().create_server(
            guard.protocol_factory(server), host, port, backlog=128
        )
    except BaseException:
        logging.getLogger("aiohttp.server").removeFilter(quiet)
        await runner.cleanup()
        raise
    bound = int(listener.sockets[0].getsockname()[1])
    return HttpServer(runner, listener, bound, guard, quiet)
