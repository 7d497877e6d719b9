"""Faults a test queues for a Web API method, one consumed per call (`SlackStandin.fail`)."""

from __future__ import annotations

from dataclasses import dataclass


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
