"""The workspace itself: channels, threads, ephemerals, DMs, modals and Home tabs, the calls
and deliveries, and a change counter the sandbox page and tests wait on."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from bot.sandbox.slack_workspace.blocks import with_ids
from bot.sandbox.slack_workspace.ids import (
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    JSON,
    USER_ID,
)
from bot.sandbox.slack_workspace.records import (
    ApiCall,
    Delivery,
    Ephemeral,
    EphemeralSource,
    Message,
    View,
)

T = TypeVar("T")


class Workspace:
    """Channels, threads, ephemerals and DMs of one fake team, plus a change counter to wait on."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Event()
        self._last_micros = 0
        self.user_names: dict[str, str] = {BOT_USER_ID: "sfvopi-bot"}
        self.channel_names: dict[str, str] = {}
        self._clear()

    def _clear(self) -> None:
        self._channels: dict[str, list[Message]] = {}
        self._index: dict[tuple[str, str], Message] = {}
        self._orphans: dict[tuple[str, str], list[Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._dm_channels: dict[str, str] = {}
        self.modals: dict[str, View] = {}
        self.homes: dict[str, View] = {}
        self.calls: list[ApiCall] = []
        self.deliveries: list[Delivery] = []

    def reset(self) -> None:
        self._clear()
        self._touch()

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def next_ts(self) -> str:
        """Slack-like `seconds.micros`, strictly increasing across resets so no two collide."""
        micros = max(time.time_ns() // 1000, self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def user_name(self, user: str) -> str:
        return self.user_names.get(user) or (user[2:] if user.startswith("U0") else user).lower()

    def channel_name(self, channel: str) -> str:
        if channel.startswith("D"):
            return "directmessage"
        return (
            self.channel_names.get(channel)
            or (channel[2:] if channel.startswith("C0") else channel).lower()
        )

    # reading

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel (or of a DM, given the user id), oldest first."""
        return list(self._channels.get(self._dm_channels.get(channel, channel), []))

    def message(self, channel: str, ts: str) -> Message | None:
        return self._index.get((channel, ts))

    def thread(self, channel: str, ts: str) -> list[Message]:
        parent = self.message(channel, ts)
        if parent is not None:
            return list(parent.replies)
        return list(self._orphans.get((channel, ts), []))

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        return [
            e
            for e in self._ephemerals
            if (user is None or e.user == user) and (channel is None or e.channel == channel)
        ]

    def ephemeral(self, channel: str, ts: str) -> Ephemeral | None:
        return next((e for e in self._ephemerals if e.channel == channel and e.ts == ts), None)

    def dms(self, user: str) -> list[Message]:
        channel = self._dm_channels.get(user)
        return self.messages(channel) if channel else []

    def find_messages(self, predicate: Callable[[Message], bool]) -> list[Message]:
        """Every stored message, thread replies included, that satisfies `predicate`."""
        return [m for m in self._index.values() if predicate(m)]

    def channels(self) -> list[str]:
        return list(self._channels)

    def dm_channel(self, user: str) -> str:
        """The DM channel id for a user, opened on first use as `conversations.open` does."""
        channel = self._dm_channels.get(user)
        if channel is None:
            channel = f"D{user[1:]}"
            while channel in self._dm_channels.values():
                channel += "X"
            self._dm_channels[user] = channel
            self._channels.setdefault(channel, [])
            self._touch()
        return channel

    def resolve_channel(self, value: str) -> str | None:
        """A channel id from what a caller passed: a channel id, or a user id meaning their DM."""
        if CHANNEL_ID.fullmatch(value):
            return value
        if USER_ID.fullmatch(value):
            return self.dm_channel(value)
        return None

    def snapshot(self, calls: int = 200) -> JSON:
        """Everything, as JSON-able data, for the sandbox page."""

        def with_replies(message: Message) -> JSON:
            return message.to_dict() | {
                "edited": message.edited,
                "replies": [with_replies(r) for r in message.replies],
            }

        return {
            "version": self.version,
            "channels": {
                channel: {
                    "name": self.channel_name(channel),
                    "messages": [with_replies(m) for m in messages],
                }
                for channel, messages in self._channels.items()
            },
            "dms": dict(self._dm_channels),
            "ephemerals": [e.to_dict() for e in self._ephemerals],
            "modals": {v.user: v.to_dict() | {"errors": v.errors} for v in self.modals.values()},
            "homes": {user: v.to_dict() for user, v in self.homes.items()},
            "calls": [vars(c) for c in self.calls[-calls:]],
            "deliveries": [vars(d) for d in self.deliveries[-calls:]],
        }

    # waiting

    async def wait_changed(self, since: int, timeout: float) -> int:
        """Return the version once it passes `since`, or the current one after `timeout`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.version <= since:
                    await self._changed.wait()
        return self.version

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Wait until `predicate()` returns something truthy and return it; no sleeps in tests."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}:{c.status}" for c in self.calls[-8:])
                raise TimeoutError(f"condition not met within {timeout}s (recent calls: {recent})")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))

    # writing

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = BOT_USER_ID,
        blocks: list[JSON] | None = None,
        thread_ts: str | None = None,
    ) -> Message:
        """Store a message; a `thread_ts` naming no message is kept out of sight, as Slack does."""
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            blocks=with_ids(blocks or []),
            user=user,
            bot_id=BOT_ID if user == BOT_USER_ID else None,
        )
        self._channels.setdefault(channel, [])
        if thread_ts:
            parent = self.message(channel, thread_ts)
            if parent is not None and parent.thread_ts:
                parent = self.message(channel, parent.thread_ts)
            message.thread_ts = parent.ts if parent else thread_ts
            if parent is not None:
                parent.replies.append(message)
            else:
                self._orphans.setdefault((channel, thread_ts), []).append(message)
        else:
            self._channels[channel].append(message)
        self._index[(channel, message.ts)] = message
        self._touch()
        return message

    def update_message(
        self, channel: str, ts: str, *, text: str | None, blocks: list[JSON] | None
    ) -> Message | None:
        """Edit in place; `None` keeps the old value, as `chat.update` does."""
        message = self.message(channel, ts)
        if message is None:
            return None
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = with_ids(blocks)
        message.edited += 1
        self._touch()
        return message

    def delete_message(self, channel: str, ts: str) -> bool:
        message = self._index.pop((channel, ts), None)
        if message is None:
            return False
        parent = self.message(channel, message.thread_ts) if message.thread_ts else None
        siblings = parent.replies if parent else self._channels.get(channel, [])
        if message in siblings:
            siblings.remove(message)
        self._touch()
        return True

    def add_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[JSON] | None = None,
        *,
        source: EphemeralSource = "chat.postEphemeral",
    ) -> Ephemeral:
        ephemeral = Ephemeral(
            channel=channel,
            user=user,
            text=text,
            blocks=with_ids(blocks or []),
            ts=self.next_ts(),
            source=source,
        )
        self._ephemerals.append(ephemeral)
        self._touch()
        return ephemeral

    def replace_ephemeral(
        self, ephemeral: Ephemeral, *, text: str, blocks: list[JSON] | None
    ) -> None:
        ephemeral.text = text
        ephemeral.blocks = with_ids(blocks or [])
        ephemeral.edited += 1
        self._touch()

    def delete_ephemeral(self, ephemeral: Ephemeral) -> None:
        if ephemeral in self._ephemerals:
            self._ephemerals.remove(ephemeral)
            self._touch()

    def open_modal(self, user: str, view: JSON) -> View:
        """A modal in front of `user`; one at a time, as a new one from a click replaces it."""
        for old in [v for v in self.modals.values() if v.user == user]:
            del self.modals[old.id]
        opened = View(id=_view_id(), user=user, view=view, hash=_view_hash())
        self.modals[opened.id] = opened
        self._touch()
        return opened

    def modal_of(self, user: str) -> View | None:
        return next((v for v in self.modals.values() if v.user == user), None)

    def close_modal(self, view: View) -> None:
        if self.modals.pop(view.id, None) is not None:
            self._touch()

    def update_view(self, view: View, new: JSON, *, errors: dict[str, str] | None = None) -> None:
        view.view = new
        view.hash = _view_hash()
        view.errors = dict(errors or {})
        self._touch()

    def publish_home(self, user: str, view: JSON) -> View:
        home = self.homes.get(user)
        if home is None:
            home = self.homes[user] = View(id=_view_id(), user=user, view=view, hash=_view_hash())
        else:
            home.view, home.hash, home.at = view, _view_hash(), time.time()
        self._touch()
        return home

    def record_call(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._touch()

    def record_delivery(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self._touch()


def _view_id() -> str:
    return "V" + uuid.uuid4().hex[:10].upper()


def _view_hash() -> str:
    return f"{time.time():.6f}.{uuid.uuid4().hex[:8]}"
