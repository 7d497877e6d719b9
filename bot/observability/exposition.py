"""`GET /metrics` for both front doors: the bot's registry in Prometheus' text format.

The HTTP door faces the internet, so a bearer token (`SFVOPI_METRICS_TOKEN`) may guard it,
compared in constant time. Nothing here reads the database: the figures the store holds are
refreshed by the sweeper, so a scrape is fast and a scraper cannot load the database.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from pydantic import SecretStr

from bot.observability.metrics import BotMetrics

__all__ = ["authorized", "metrics_handler"]


def authorized(token: SecretStr | None, header: str | None) -> bool:
    """Whether an Authorization header carries the token (always, when there is none).

    A header's bytes that are not UTF-8 arrive as lone surrogates: encoded as they came, they
    simply do not match."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    expected = token.get_secret_value().encode()
    offered = given.strip().encode("utf-8", "surrogatepass")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered, expected)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def metrics_handler(metrics: BotMetrics, token: SecretStr | None) -> Handler:
    """The aiohttp handler of `GET /metrics`."""

    async def serve_metrics(request: web.Request) -> web.Response:
        if not authorized(token, request.headers.get("Authorization")):
            return web.Response(
                status=401,
                text="a bearer token is required (SFVOPI_METRICS_TOKEN)\n",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        # Prometheus' text format unless the scraper asks for OpenMetrics (its Accept header)
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(metrics.registry), headers={"Content-Type": content_type})

    return serve_metrics
