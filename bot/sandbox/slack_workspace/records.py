"""What the workspace holds, as plain data: messages, ephemerals, views, the Web API calls
the bot made and what "Slack" delivered to it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from bot.sandbox.slack_workspace.blocks import buttons
from bot.sandbox.slack_workspace.ids import APP_ID, JSON, TEAM_ID

EphemeralSource = Literal["chat.postEphemeral", "ack", "response_url", "slack"]


def as_shown(record: Any) -> JSON:
    """A record as the page and tests read it: each of its fields, but for those kept out of
    its repr (an execution's token: never shown)."""
    return {f.name: getattr(record, f.name) for f in fields(record) if f.repr}


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
        return as_shown(self)


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
