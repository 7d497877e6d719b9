"""Every Slack Web API answer the bot gets, counted: a retry handler that never retries.

slack-sdk asks each retry handler about every response and every failed attempt, and Bolt
copies the handlers into the client it builds per request; so a handler placed first sees
every call any listener makes, through any client built from the bot's own.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.observability.metrics import OTHER, BotMetrics

__all__ = ["SlackCallCounter", "answer_error", "method_of"]

_METHOD = re.compile(r"[a-z]+(?:\.[A-Za-z]+){1,3}")


def method_of(url: str) -> str:
    """`chat.postMessage` from `https://slack.com/api/chat.postMessage?…`, or "other"."""
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name if _METHOD.fullmatch(name) else OTHER


def answer_error(response: HttpResponse | None, error: Exception | None) -> str | None:
    """Slack's error code for one attempt, a name for what came instead, or None when ok."""
    if error is not None:
        if isinstance(error, asyncio.TimeoutError | TimeoutError):
            return "timeout"
        if isinstance(error, aiohttp.ClientConnectionError):
            return "connection_error"
        if isinstance(error, SlackApiError):
            return "unreadable_response"
        return "transport_error"
    if response is None:
        return "transport_error"
    body = response.body
    if isinstance(body, dict) and body.get("ok") is False:
        code = body.get("error")
        return code if isinstance(code, str) else OTHER
    if response.status_code == 429:
        return "ratelimited"
    if response.status_code >= 500:
        return "http_5xx"
    if response.status_code >= 400:
        return "http_4xx"
    return None


class SlackCallCounter(AsyncRetryHandler):
    """Counts each attempt and each refusal by method and error; always declines to retry,
    so the handlers after it decide as before."""

    def __init__(self, metrics: BotMetrics) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        self.metrics.slack_answer(method_of(request.url), answer_error(response, error))
        return False
