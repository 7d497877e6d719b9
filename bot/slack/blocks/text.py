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
    "MESSAGE_LIMIT",
    "SECTION_LIMIT",
    "Block",
    "button",
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
"""A section's or context element's mrkdwn, under Slack's 3,000-character limit."""
MESSAGE_LIMIT = 4000
"""A message's top-level `text`: Slack truncates past 40,000 and asks for at most 4,000."""
_ENTITY = 5  # the longest entity `escape` writes, `&amp;`


def escape(text: str) -> str:
    """Neutralises user text in mrkdwn, so a reason cannot ping @channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert(text: str) -> str:
    """User text on one line, without the invisible characters that could disguise it."""
    return " ".join(visible(text).split())


def quoted(text: str, limit: int = SECTION_LIMIT) -> str:
    """User text for mrkdwn, as inline code: no bold, italics, strike, quotes, emoji codes,
    links or mentions take effect, however it was typed (clipped once escaped, to `limit`)."""
    flat = clip(escape(inert(text)).replace("`", "'"), limit - 2)
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


def fields_section(*fields: tuple[str, str]) -> Block:
    """Short facts side by side, each its label in bold over its value (made inert by the
    caller)."""
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in fields],
    }


def button(action_id: str, text: str, value: str, style: str | None = None) -> Block:
    """A button whose `value` (a request number) comes back, untrusted, with the click."""
    plain_text = {"type": "plain_text", "text": text}
    shown: Block = {"type": "button", "action_id": action_id, "text": plain_text, "value": value}
    if style is not None:
        shown["style"] = style
    return shown


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def clip(text: str, limit: int = SECTION_LIMIT, *, tail: str = "") -> str:
    """Escaped mrkdwn cut to `limit` characters, ending in "…" where cut: never inside a
    `<…>` token (mention, date, link) or an `&amp;`-style entity, and with `tail` (a summary
    line such as "… and 60 more") kept whole on its own last line."""
    if tail:
        return f"{clip(text, limit - len(tail) - 1)}\n{tail}"
    if len(text) <= limit:
        return text
    end = limit - 1
    opened = text.rfind("<", 0, end)
    if opened != -1 and text.find(">", opened, end) == -1:
        end = opened
    amp = text.rfind("&", max(0, end - _ENTITY + 1), end)
    if amp != -1 and ";" not in text[amp:end]:
        end = amp
    return text[:end] + "…"
