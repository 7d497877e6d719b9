"""What the Slack stand-in remembers: messages, threads, ephemerals, DMs and every call made.

Kept apart from the HTTP side so the sandbox page and tests can read it as plain data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "sfvopi-test"
TEAM_NAME = "SFVoPI Test"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0TEST"

CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")

EphemeralSource = Literal["chat.postEphemeral", "ack", "response_url", "slack"]


@dataclass(kw_only=True)
class Message:
    """A message as Slack stores it; replies hang off their parent, as in a Slack thread."""

    channel: str
    ts: str
    text: str
    blocks: list[JSON]
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    replies: list[Message] = field(default_factory=list)
    edited: int = 0
    at: float = field(default_factory=time.time)

    def to_dict(self) -> JSON:
        """The shape Slack uses in API answers and in `block_actions` payloads."""
        body: JSON = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        if self.bot_id:
            body |= {"bot_id": self.bot_id, "app_id": APP_ID}
        body["team"] = TEAM_ID
        if self.blocks:
            body["blocks"] = self.blocks
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.replies:
            body["reply_count"] = len(self.replies)
        return body

    def action_ids(self) -> list[str]:
        return [element["action_id"] for _, element in buttons(self.blocks)]


@dataclass(kw_only=True)
class Ephemeral:
    """A message only `user` sees; `source` tells an immediate ack reply from a later post."""

    channel: str
    user: str
    text: str
    blocks: list[JSON]
    ts: str
    source: EphemeralSource
    edited: int = 0
    at: float = field(default_factory=time.time)

    @property
    def from_ack(self) -> bool:
        return self.source == "ack"

    def to_dict(self) -> JSON:
        return {
            "channel": self.channel,
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
            "ts": self.ts,
            "source": self.source,
            "edited": self.edited,
            "at": self.at,
        }


@dataclass(kw_only=True)
class ApiCall:
    """One request the bot made to the stand-in (Web API method or "response_url")."""

    method: str
    params: JSON
    status: int
    ok: bool
    error: str | None = None
    at: float = field(default_factory=time.time)


@dataclass(kw_only=True)
class View:
    """A modal open in front of `user`, or (type "home") their Home tab, as the bot built it;
    `errors` are what the bot's last answer to a submission put under its fields."""

    id: str
    user: str
    view: JSON
    hash: str
    errors: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def to_dict(self) -> JSON:
        """The shape Slack uses in API answers and in payloads (`view`)."""
        return self.view | {"id": self.id, "team_id": TEAM_ID, "app_id": APP_ID, "hash": self.hash}

    def action_ids(self) -> list[str]:
        return [element["action_id"] for _, element in buttons(self.view.get("blocks") or [])]


DeliveryKind = Literal[
    "slash_commands",
    "block_actions",
    "view_submission",
    "event_callback",
    "url_verification",
    "raw",
]


@dataclass(kw_only=True)
class Delivery:
    """One thing "Slack" sent the bot: a command, a click, a submitted modal, an event, or a
    hand-made raw post."""

    kind: DeliveryKind
    transport: Literal["http", "socket"]
    user: str | None
    channel: str | None
    summary: str
    status: int | None
    elapsed: float
    timed_out: bool
    at: float = field(default_factory=time.time)


@dataclass(kw_only=True)
class Ack:
    """What the bot answered to a delivery and how long it took; `body` is None when empty."""

    status: int | None
    body: JSON | str | None
    elapsed: float
    timed_out: bool = False
    transport: Literal["http", "socket"] = "http"

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.timed_out

    @property
    def json(self) -> JSON:
        return self.body if isinstance(self.body, dict) else {}


@dataclass(kw_only=True)
class CommandResult(Ack):
    """`fields` is what was sent; `ephemeral` is the ack reply as the user saw it, if any."""

    fields: dict[str, str]
    response_url: str
    ephemeral: Ephemeral | None = None


@dataclass(kw_only=True)
class ClickResult(Ack):
    payload: JSON
    response_url: str


@dataclass(kw_only=True)
class SubmitResult(Ack):
    """A submitted modal: `errors` (the modal stays open with them) or `closed`."""

    payload: JSON
    errors: dict[str, str]
    closed: bool


@dataclass(kw_only=True)
class EventResult(Ack):
    """A delivered Events API body; `redeliver` it to play Slack's retry."""

    body: JSON | str | None
    event: JSON


@dataclass(frozen=True)
class RateLimited:
    """HTTP 429 with `Retry-After`, as Slack answers a method called too often."""

    retry_after: int = 1


@dataclass(frozen=True)
class SlackServerError:
    status: int = 500


@dataclass(frozen=True)
class Timeout:
    """Answer (with 503) only after `seconds`, so the caller's own timeout fires first."""

    seconds: float


@dataclass(frozen=True)
class Slow:
    """Answer normally, but only after `seconds` (a trigger_id may expire meanwhile)."""

    seconds: float


@dataclass(frozen=True)
class SlackApiRefusal:
    """HTTP 200 with `{"ok": false, "error": error}`, e.g. `not_in_channel`."""

    error: str


SlackFault = RateLimited | SlackServerError | Timeout | Slow | SlackApiRefusal


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


def with_ids(blocks: list[JSON]) -> list[JSON]:
    """A private copy of `blocks` with the `block_id`s and `action_id`s Slack fills in."""
    copied: list[JSON] = json.loads(json.dumps(blocks))
    for block in copied:
        block.setdefault("block_id", uuid.uuid4().hex[:5])
        elements = block.get("elements") if block.get("type") == "actions" else None
        for element in [*(elements or []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                element.setdefault("action_id", uuid.uuid4().hex[:5])
    return copied


def buttons(blocks: list[JSON]) -> list[tuple[str, JSON]]:
    """`(block_id, element)` for every button in actions blocks and section accessories."""
    found: list[tuple[str, JSON]] = []
    for block in blocks:
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("type") == "section" and block.get("accessory"):
            candidates.append(block["accessory"])
        found += [(block.get("block_id", ""), e) for e in candidates if e.get("type") == "button"]
    return found


def block_errors(blocks: Any, *, max_blocks: int = 50) -> list[str]:
    """The Block Kit limits Slack enforces with `invalid_blocks`, in Slack's wording (a
    message holds 50 blocks, a modal or Home view 100)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must provide no more than {max_blocks} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{at}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                errors.append(f"must be 1 to 255 characters [json-pointer:{at}/block_id]")
            elif block_id in block_ids:
                errors.append(f"duplicate block_id [json-pointer:{at}/block_id]")
            else:
                block_ids.add(block_id)
        errors += _block_errors(block, at)
    return errors


def _block_errors(block: JSON, at: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return [f"must provide text or fields [json-pointer:{at}]"]
        errors = _text_errors(block.get("text"), f"{at}/text", 3000) if "text" in block else []
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.append(f"must provide no more than 10 items [json-pointer:{at}/fields]")
        for j, item in enumerate(fields):
            errors += _text_errors(item, f"{at}/fields/{j}", 2000)
        if "accessory" in block:
            errors += _element_errors(block["accessory"], f"{at}/accessory")
        return errors
    if kind == "header":
        return _text_errors(block.get("text"), f"{at}/text", 150, plain=True)
    if kind == "input":
        errors = _text_errors(block.get("label"), f"{at}/label", 2000, plain=True)
        element = block.get("element")
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            errors.append(f"missing required field: element [json-pointer:{at}]")
        elif not 0 < len(str(element.get("action_id") or "x")) <= 255:
            errors.append(f"must be 1 to 255 characters [json-pointer:{at}/element/action_id]")
        return errors
    if kind in ("context", "actions"):
        limit = 10 if kind == "context" else 25
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= limit:
            return [f"must provide 1 to {limit} items [json-pointer:{at}/elements]"]
        if kind == "context":
            return [e for j, el in enumerate(elements) for e in _context_errors(el, at, j)]
        errors = []
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            errors += _element_errors(element, f"{at}/elements/{j}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id in action_ids:
                errors.append(f"duplicate action_id [json-pointer:{at}/elements/{j}/action_id]")
            if isinstance(action_id, str):
                action_ids.add(action_id)
        return errors
    return []


def _context_errors(element: Any, at: str, j: int) -> list[str]:
    if isinstance(element, dict) and element.get("type") == "image":
        return []
    return _text_errors(element, f"{at}/elements/{j}", 3000)


def _element_errors(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict) or element.get("type") != "button":
        return []
    errors = _text_errors(element.get("text"), f"{at}/text", 75, plain=True)
    for key, limit in (("value", 2000), ("action_id", 255), ("url", 3000)):
        value = element.get(key)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
            errors.append(f"must be 1 to {limit} characters [json-pointer:{at}/{key}]")
    if element.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of primary, danger [json-pointer:{at}/style]")
    return errors


def _text_errors(text: Any, at: str, limit: int, *, plain: bool = False) -> list[str]:
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if not isinstance(text, dict) or text.get("type") not in kinds:
        return [f"must be a text object of type {' or '.join(kinds)} [json-pointer:{at}]"]
    value = text.get("text")
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        return [f"must be 1 to {limit} characters [json-pointer:{at}/text]"]
    return []
