"""What the bot answered to a delivery, as the stand-in's client side hands it to a test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.sandbox.slack_workspace.ids import JSON
from bot.sandbox.slack_workspace.records import Ephemeral


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
