"""Posts to one channel, one at a time, and paced once Slack has asked for it.

Slack takes about one `chat.postMessage` per second per channel and answers 429 with
Retry-After beyond it. Cards take turns per channel (`ChannelPacer.turn`); a channel Slack never
refused is not slowed at all. After a 429 the channel waits out Retry-After and is then "hot":
one post per `interval` for as long as posts keep coming for it, so a burst of cards draws one
429, not one per card. `PacedRateLimitRetryHandler` is the slack-sdk side: it tells the pacer
which channel Slack refused and for how long, and retries the post once that has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.observability.slack_calls import method_of

__all__ = ["PACED_METHODS", "ChannelPacer", "PacedRateLimitRetryHandler", "retry_after"]

log = logging.getLogger(__name__)

PACED_METHODS = frozenset({"chat.postMessage"})
DEFAULT_RETRY_AFTER = 1.0  # seconds, when a 429 names none (Slack always does)

# the channel whose turn this task holds: slack-sdk shows retry handlers a JSON body's
# arguments nowhere, so a card's 429 (chat.postMessage sends JSON) is placed by its turn
_turn_channel: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sfvopi_paced_channel", default=None
)


@dataclass
class _Channel:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # tasks holding or waiting for the turn
    resume_at: float = -math.inf  # Retry-After: no turn starts before this
    hot: bool = False  # Slack refused a post lately: one per interval while posts keep coming
    last: float = -math.inf  # when the latest post went out, or was answered
    holder: asyncio.Task[Any] | None = None  # the task whose turn it is


class ChannelPacer:
    """One post at a time per channel; after a 429, the channel waits out Retry-After and then
    goes at `interval` seconds per post while posts queue for it.

    A channel's state lives only while it is in use or still owes a wait, so channels posted to
    once keep nothing."""

    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if not interval > 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._channels: dict[str, _Channel] = {}

    @contextlib.asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[bool]:
        """Holds the channel's turn to post; yields whether it had to wait for it. A task
        already holding it (a card's post, then the posts it owes under the card) goes on."""
        self._forget_idle()
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel()
        me = asyncio.current_task()
        if me is not None and state.holder is me:
            yield False
            return
        state.users += 1
        try:
            waited = state.users > 1  # another post holds the turn or is ahead in line
            async with state.lock:
                while (delay := self._delay(state)) > 0:
                    waited = True
                    await self._sleep(delay)
                state.last = max(state.last, self._clock())
                token = _turn_channel.set(channel)
                state.holder = me
                try:
                    yield waited
                finally:
                    state.holder = None
                    with contextlib.suppress(ValueError):  # finalised elsewhere (task destroyed)
                        _turn_channel.reset(token)
        finally:
            state.users -= 1
            if state.users == 0:
                self._forget_when_idle(channel, state)

    def rate_limited(self, channel: str, retry_after: float) -> None:
        """Slack answered 429 for this channel: nothing more goes to it for `retry_after`, then
        one post per `interval` while posts keep coming."""
        self._forget_idle()
        now = self._clock()
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel()
        wait = retry_after if math.isfinite(retry_after) and retry_after > 0 else 0.0
        state.resume_at = max(state.resume_at, now + wait)
        state.last = max(state.last, state.resume_at)  # where the refused post goes again
        if not state.hot:
            log.warning(
                "Slack is rate-limiting posts to %s: waiting %.0f s, then one post every "
                "%.2g s while more queue for it",
                channel,
                wait,
                self.interval,
            )
        state.hot = True
        if state.users == 0:
            self._forget_when_idle(channel, state)

    def answered(self, channel: str) -> None:
        """A post to the channel was answered: the next one, if paced, counts from now (so two
        posts never reach Slack closer than `interval`, however long each took to send)."""
        state = self._channels.get(channel)
        if state is not None:
            state.last = max(state.last, self._clock())

    def hot(self, channel: str) -> bool:
        """Whether posts to the channel are being paced (Slack refused one lately)."""
        state = self._channels.get(channel)
        return state is not None and state.hot and not self._idle(state)

    def channels(self) -> list[str]:
        """Channels the pacer holds state for: in use, or still owing a wait."""
        self._forget_idle()
        return list(self._channels)

    def _delay(self, state: _Channel) -> float:
        start = state.resume_at
        if state.hot:
            start = max(start, state.last + self.interval)
        return start - self._clock()

    def _idle(self, state: _Channel) -> bool:
        """Nothing holds, awaits or owes anything on it: its state can go."""
        if state.users or state.lock.locked():
            return False
        now = self._clock()
        return now >= state.resume_at and (not state.hot or now >= state.last + self.interval)

    def _forget_when_idle(self, channel: str, state: _Channel) -> None:
        """Now if nothing is owed, else once it is (so a paced episode ends on time)."""
        if self._idle(state):
            self._drop(channel, state)
            return
        until = max(state.resume_at, state.last + self.interval if state.hot else -math.inf)
        with contextlib.suppress(RuntimeError):  # no running loop: the next call tidies up
            asyncio.get_running_loop().call_later(
                max(0.0, until - self._clock()) + 0.01, self._forget_idle
            )

    def _drop(self, channel: str, state: _Channel) -> None:
        if self._channels.get(channel) is state:
            del self._channels[channel]
            if state.hot:
                log.info("posts to %s caught up with Slack's pace: no longer paced", channel)

    def _forget_idle(self) -> None:
        for channel, state in list(self._channels.items()):
            if self._idle(state):
                self._drop(channel, state)


class PacedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Rides out 429s like slack-sdk's own handler; for a paced method (a card's
    chat.postMessage) it also tells the pacer which channel Slack refused, and retries after
    exactly Retry-After (no jitter: the channel's posts take turns, so none collide)."""

    def __init__(
        self,
        pacer: ChannelPacer,
        *,
        max_retry_count: int = 3,
        methods: Iterable[str] = PACED_METHODS,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacer = pacer
        self.methods = frozenset(methods)

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        channel = self._paced_channel(request) if response is not None else None
        if channel is not None and response is not None:
            if response.status_code != 429:
                self.pacer.answered(channel)
            elif state.current_attempt >= self.max_retry_count:  # not retried, still heeded
                self.pacer.rate_limited(channel, retry_after(response))
        return await super().can_retry_async(
            state=state, request=request, response=response, error=error
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        channel = self._paced_channel(request) if response is not None else None
        if response is None or channel is None:
            await super().prepare_for_next_attempt_async(
                state=state, request=request, response=response, error=error
            )
            return
        wait = retry_after(response)
        self.pacer.rate_limited(channel, wait)
        state.next_attempt_requested = True
        await asyncio.sleep(wait)
        state.increment_current_attempt()

    def _paced_channel(self, request: HttpRequest) -> str | None:
        if method_of(request.url) not in self.methods:
            return None
        return _channel_named(request) or _turn_channel.get()


def retry_after(response: HttpResponse) -> float:
    """Seconds Slack asked to wait (its Retry-After header), 1 s if it named none."""
    for name, values in response.headers.items():
        if name.lower() != "retry-after":
            continue
        value = values[0] if isinstance(values, list) and values else values
        try:
            seconds = float(str(value).strip())
        except ValueError:
            return DEFAULT_RETRY_AFTER
        return seconds if math.isfinite(seconds) and seconds >= 0 else DEFAULT_RETRY_AFTER
    return DEFAULT_RETRY_AFTER


def _channel_named(request: HttpRequest) -> str | None:
    """The `channel` argument of a call sent as a form or query (a JSON body is not shown)."""
    for source in (request.body_params, request.data):
        found: Any = None
        if isinstance(source, dict):
            found = source.get("channel")
        elif isinstance(source, bytes | str):
            found = _channel_in_body(source.decode() if isinstance(source, bytes) else source)
        if isinstance(found, str) and found:
            return found
    return None


def _channel_in_body(body: str) -> Any:
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        return parsed.get("channel") if isinstance(parsed, dict) else None
    values = parse_qs(body).get("channel")
    return values[0] if values else None
