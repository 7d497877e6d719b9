"""Faults a test queues for a Web API method (one consumed per call), and slow methods."""

from __future__ import annotations

import asyncio
import collections

from aiohttp import web

from bot.sandbox.slack_standin.post_limit import PostLimit
from bot.sandbox.slack_workspace import (
    JSON,
    RateLimited,
    SlackFault,
    SlackServerError,
    Slow,
    Timeout,
)


class Faults(PostLimit):
    def __init__(self) -> None:
        super().__init__()
        self._faults: dict[str, collections.deque[SlackFault]] = {}
        self.slow_methods: dict[str, float] = {}  # method → seconds before it answers

    def reset(self) -> None:
        self._faults.clear()
        self.slow_methods.clear()
        super().reset()

    def fail(self, method: str, *faults: SlackFault) -> None:
        """Queue faults for a Web API method (or "response_url"), one consumed per call."""
        self._faults.setdefault(method, collections.deque()).extend(faults)

    def slow_down(self, method: str, seconds: float) -> None:
        """`method` answers only after `seconds` (0: at once again), as a slow Slack does."""
        self.slow_methods[method] = seconds

    async def _fault(self, method: str, params: JSON) -> web.Response | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue.popleft()
        headers: dict[str, str] = {}
        if isinstance(fault, Slow):
            await asyncio.sleep(fault.seconds)
            return None
        if isinstance(fault, RateLimited):
            status, error = 429, "ratelimited"
            headers["Retry-After"] = str(fault.retry_after)
            if method == "chat.postMessage":
                self._rate_limited[self._posted_channel(params)] += 1
        elif isinstance(fault, SlackServerError):
            status, error = fault.status, "internal_error"
        elif isinstance(fault, Timeout):
            await asyncio.sleep(fault.seconds)
            status, error = 503, "service_unavailable"
        else:
            status, error = 200, fault.error
        return self._answer(method, params, {"ok": False, "error": error}, status, headers)
