"""Slack's per-channel pace for `chat.postMessage`: a post too soon after the last one
there is answered 429, and every 429 a channel got is counted."""

from __future__ import annotations

import collections
import math
import time

from aiohttp import web

from bot.sandbox.slack_standin.base import StandinBase
from bot.sandbox.slack_standin.params import as_str
from bot.sandbox.slack_workspace import JSON


class PostLimit(StandinBase):
    def __init__(self) -> None:
        super().__init__()
        self.posts_per_second: float | None = None  # Slack's per-channel pace, when enforced
        self._accepted_posts: dict[str, float] = {}  # channel → when a post was last taken
        self._rate_limited: collections.Counter[str] = collections.Counter()  # channel → 429s

    def reset(self) -> None:
        self.unlimit_posts()
        self._rate_limited.clear()
        super().reset()

    def limit_posts(self, per_second: float = 1.0) -> None:
        """Until `unlimit_posts`: as Slack does, a `chat.postMessage` to a channel sooner than
        1/`per_second` after the last post it took there is answered 429 with Retry-After
        (whole seconds, at least 1) and `ratelimited`, and nothing is posted."""
        if not per_second > 0:
            raise ValueError("per_second must be positive")
        self.posts_per_second = per_second

    def unlimit_posts(self) -> None:
        self.posts_per_second = None
        self._accepted_posts.clear()

    def rate_limited(self, channel: str | None = None) -> int:
        """How many 429s `chat.postMessage` got for `channel` (every channel: None), from the
        limit or from queued `RateLimited` faults."""
        if channel is None:
            return sum(self._rate_limited.values())
        return self._rate_limited[self._dm_channels.get(channel, channel)]

    def _post_pace(self, method: str, params: JSON) -> tuple[str, float] | web.Response:
        """A post too soon after the channel's last one: its 429. Else the channel and now,
        to note if the post is taken."""
        channel = self._posted_channel(params)
        now = time.monotonic()
        last = self._accepted_posts.get(channel)
        if self.posts_per_second is not None and last is not None:
            wait = last + 1 / self.posts_per_second - now
            if wait > 0:
                self._rate_limited[channel] += 1
                body = {"ok": False, "error": "ratelimited"}
                retry_after = {"Retry-After": str(max(1, math.ceil(wait)))}
                return self._answer(method, params, body, 429, retry_after)
        return channel, now

    def _posted_channel(self, params: JSON) -> str:
        """The channel a post names, a user id meaning their DM, as the pace keys it."""
        channel = as_str(params.get("channel"))
        return self._dm_channels.get(channel, channel)

    def _note_post(self, body: JSON, paced: tuple[str, float] | None) -> None:
        """A paced post Slack took starts the channel's wait again."""
        if paced is not None and body.get("ok"):  # keyed as posted: a user id means their DM
            self._accepted_posts[as_str(body.get("channel")) or paced[0]] = paced[1]
