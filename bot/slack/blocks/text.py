"""The pieces every message is made of: user text made inert for mrkdwn, people, times,
sections and context lines clipped to Slack's limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.core import ids
from bot.core.deliveries import mention
from bot.core.text import visible

__all__ = [
    "SECTION_LIMIT",
    "Block",
    "clip",
    "context",
    "escape",
    "inert",
    "mentions",
    "message_blocks",
    "permalink",
    "plain",
    "quoted",
    "section",
    "user",
    "when",
]

Block = dict[str, Any]
SECTION_LIMIT = 2900


def escape(text: str) -> str:
    """Neutralises user text in mrkdwn, so a reason cannot ping @channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert(text: str) -> str:
    """User text on one line, without the invisible characters that could disguise it."""
    return " ".join(visible(text).split())


def quoted(text: str) -> str:
    """User text for mrkdwn, as inline code: no bold, italics, strike, quotes, emoji codes,
    links or mentions take effect, however it was typed."""
    flat = escape(inert(text)).replace("`", "'")
    return f"`{flat}`" if flat else "``"


def plain(text: str) -> Block:
    """A plain_text object for user text: Slack renders it exactly as typed."""
    return {"type": "plain_text", "text": inert(text)[:SECTION_LIMIT] or " ", "emoji": False}


def user(user_id: str) -> str:
    """A person as a mention; an HTTP API client's service identity (`api:…`) as itself."""
    return f"`{user_id}`" if ids.is_service(user_id) else f"<@{user_id}>"


def when(epoch: float) -> str:
    """A time each reader sees in their own zone, with a UTC fallback."""
    fallback = dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time}}|{fallback}>"


def mentions(ids: Sequence[str]) -> str:
    """User groups, channels and people (ids from the org file), as Slack mentions them."""
    return ", ".join(mention(i) for i in ids)


def permalink(team_domain: str, channel: str, ts: str) -> str:
    """A message's address, as Slack's own permalinks read (no API call needed)."""
    return f"https://{team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def message_blocks(text: str) -> list[Block]:
    return [section(text)]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def clip(text: str) -> str:
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
