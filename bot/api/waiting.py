"""Long-polls: a call waiting for a request to reach a final state.

A change made in this process wakes its waiters at once (a workflow listener); a change made
by another replica is seen by re-reading the store every POLL_SECONDS, so a wait ends however
and wherever the request ends. Waits are bounded in number (per client and in all), because
each holds a connection the front door never sheds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterator

from bot.core.models import Request
from bot.errors import ApiProblem

__all__ = ["MAX_WAITS", "MAX_WAITS_PER_CLIENT", "POLL_SECONDS", "Changes"]

POLL_SECONDS = 1.0
MAX_WAITS = 128  # a quarter of the front door's connection cap (bot/slack/limits.py)
MAX_WAITS_PER_CLIENT = 32


class Changes:
    """Who waits for which request, woken by the workflow's changes or by shutdown."""

    def __init__(self) -> None:
        self._waiters: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self._per_client: Counter[str] = Counter()
        self.closing = False

    def changed(self, request: Request) -> None:
        """A workflow listener: wakes every wait on this request."""
        for event in self._waiters.get(request.id, ()):
            event.set()

    def close(self) -> None:
        """Shutting down: every wait answers now, with the state as it stands."""
        self.closing = True
        for events in self._waiters.values():
            for event in events:
                event.set()

    @contextlib.contextmanager
    def watching(self, client: str, request_id: int) -> Iterator[asyncio.Event]:
        """An event set when `request_id` changes here; refused past the bounds."""
        if sum(self._per_client.values()) >= MAX_WAITS:
            raise ApiProblem(
                "unavailable",
                "too many calls are waiting at once; ask again without wait, or shortly",
                headers={"Retry-After": "2"},
            )
        if self._per_client[client] >= MAX_WAITS_PER_CLIENT:
            raise ApiProblem(
                "too-many-waits",
                f"this client already has {MAX_WAITS_PER_CLIENT} calls waiting",
                headers={"Retry-After": "2"},
            )
        event = asyncio.Event()
        self._per_client[client] += 1
        self._waiters[request_id].add(event)
        try:
            yield event
        finally:
            self._per_client[client] -= 1
            self._waiters[request_id].discard(event)
            if not self._waiters[request_id]:
                del self._waiters[request_id]

    async def pause(self, event: asyncio.Event, seconds: float) -> None:
        """Until `event` is set (then cleared) or `seconds` pass."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        event.clear()
