"""What a phone number and an app id may look like, checked before either reaches a URL path."""

from __future__ import annotations

import re

from bot.core import text
from bot.errors import InvalidId

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
APP_ID = re.compile(r"(?:sfv_)?app_[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
REQUEST_ID = re.compile(r"#?([1-9][0-9]{0,17})")
MAX_REQUEST_ID = 2**31 - 1  # the store's id column is a 32-bit INTEGER on PostgreSQL
MAX_SLACK_ID = 255  # the store's user and channel columns (bot/store/schema.py)
USER_ID = re.compile(rf"[UW][A-Z0-9]{{2,{MAX_SLACK_ID - 1}}}")
CHANNEL_ID = re.compile(rf"[CGD][A-Z0-9]{{2,{MAX_SLACK_ID - 1}}}")
USERGROUP_ID = re.compile(rf"S[A-Z0-9]{{2,{MAX_SLACK_ID - 1}}}")
# An HTTP API client acting under its own name (bot/api): never a Slack id, so it can never
# be mistaken for a person, approve, or be mentioned or messaged in Slack.
SERVICE_PREFIX = "api:"
SERVICE_ID = re.compile(r"api:[a-z0-9][a-z0-9_-]{0,31}")


def looks_like_app_id(token: str) -> bool:
    """True for a token meant as an app id (right prefix), whether or not it is well formed."""
    return token.startswith(("sfv_app_", "app_", "sfv_"))


def _whole(pattern: re.Pattern[str], value: str, not_one: str) -> str:
    """`value` when `pattern` matches all of it; else InvalidId: "`value` is {not_one}"."""
    if not pattern.fullmatch(value):
        raise InvalidId(f"`{shown(value)}` is {not_one}")
    return value


def app_id(value: str) -> str:
    return _whole(
        APP_ID,
        value,
        "not an app id: expected something like `sfv_app_abc123xyz456` (letters, digits, `_` "
        "and `-` after the prefix)",
    )


def phone_number(value: str) -> str:
    return _whole(
        E164,
        value,
        "not a phone number in E.164 form: expected `+` and the country code, like `+918000000001`",
    )


def request_id(value: str) -> int:
    match = REQUEST_ID.fullmatch(value.strip())
    if not match:
        raise InvalidId(f"`{shown(value)}` is not a request number: expected like `17` or `#17`")
    number = int(match.group(1))
    if number > MAX_REQUEST_ID:
        raise InvalidId(f"there is no request #{number}")
    return number


def user_id(value: str) -> str:
    """A Slack user id (`U…`, or `W…` on Enterprise Grid), of any length Slack uses."""
    return _whole(USER_ID, value, "not a Slack user id")


def requester_id(value: str) -> str:
    """Who may file a request: a Slack user, or an API client's service identity (`api:…`)."""
    if not (USER_ID.fullmatch(value) or SERVICE_ID.fullmatch(value)):
        raise InvalidId(f"`{shown(value)}` is not a Slack user id nor an API service identity")
    return value


def is_service(value: str) -> bool:
    """Whether an actor is an API client's service identity (`api:…`), not a Slack user."""
    return SERVICE_ID.fullmatch(value) is not None


def channel_id(value: str) -> str:
    """A Slack conversation id: channel `C…`, private `G…` or direct message `D…`."""
    return _whole(CHANNEL_ID, value, "not a Slack channel id")


def shown(value: str, limit: int = 40) -> str:
    """A bounded, single-line rendering of untrusted input for an error message: no backtick
    to break out of the code span it is shown in, no control or bidi character."""
    flat = text.visible(value).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
