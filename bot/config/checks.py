"""The settings and the Slack secrets each mode needs, checked without sending anything.

Every bad setting is one line (`load_settings`), and a bad one falls back to its default so
the rest can still be checked; a secret's problem names the variable, never any of its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import pydantic
from pydantic import SecretStr

from bot.config.settings import Settings, describe_error

__all__ = ["MODES", "Mode", "fallback_settings", "load_settings", "slack_secret_problems"]

Mode = Literal["serve", "socket"]
MODES: tuple[Mode, ...] = ("serve", "socket")

_BOT_TOKEN = re.compile(r"xoxb-[0-9A-Za-z][0-9A-Za-z-]*")
_APP_TOKEN = re.compile(r"xapp-[0-9A-Za-z][0-9A-Za-z-]*")
_SLACK_SECRET = re.compile(r"[0-9a-f]{32}")
_MIN_SECRET = 16
# Other Slack credentials, by their public prefix: what someone pasted into the wrong variable.
_KINDS = (
    ("xoxb-", "a bot token (xoxb-…)"),
    ("xapp-", "an app-level token (xapp-…)"),
    ("xoxp-", "a user token (xoxp-…)"),
    ("xoxe", "a token-rotation token (xoxe…)"),
    ("xoxa-", "a workspace token (xoxa-…)"),
    ("xoxs-", "a session token (xoxs-…)"),
    ("xox", "a Slack token of another kind"),
)
_SETTING_START = re.compile(r"; (?=bad setting|missing setting)")


def load_settings() -> tuple[Settings | None, set[str], list[str]]:
    """Settings, the attribute names of the bad ones, and one line per bad setting."""
    try:
        return Settings(), set(), []
    except pydantic.ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        fields = {_field_name(name) for name in bad}
        lines = _SETTING_START.split(describe_error(exc))
        return None, fields, [line for line in lines if line]


def _field_name(name: str) -> str:
    """The attribute an error location names (pydantic reports an alias like `PORT`)."""
    if name in Settings.model_fields:
        return name
    for attribute, info in Settings.model_fields.items():
        if info.validation_alias == name:
            return attribute
    return name


def fallback_settings(bad_fields: Iterable[str]) -> Settings | None:
    """The settings with each bad one at its default, so the rest can still be checked."""
    defaults = {
        name: Settings.model_fields[name].default
        for name in bad_fields
        if name in Settings.model_fields
    }
    try:
        return Settings(**defaults)
    except pydantic.ValidationError:
        return None


def slack_secret_problems(settings: Settings, modes: Iterable[Mode]) -> tuple[list[str], list[str]]:
    """What is wrong with the Slack secrets `modes` need (problems), and what only looks odd
    (notes). Shapes only: nothing is sent anywhere, and no line holds any part of a value."""
    modes = tuple(modes)
    problems: list[str] = []
    notes: list[str] = []
    bot = _token_problem(
        "SLACK_BOT_TOKEN",
        settings.slack_bot_token,
        _BOT_TOKEN,
        "a bot token (xoxb-…)",
        "the Bot User OAuth Token, under OAuth & Permissions",
    )
    if bot:
        problems.append(bot)
    if "socket" in modes:
        app = _token_problem(
            "SLACK_APP_TOKEN",
            settings.slack_app_token,
            _APP_TOKEN,
            "an app-level token (xapp-…)",
            "Socket Mode needs an app-level token with connections:write, "
            "under Basic Information → App-Level Tokens",
        )
        if app:
            problems.append(app)
    if "serve" in modes:
        problem, note = _signing_secret_problem(settings.slack_signing_secret)
        if problem:
            problems.append(problem)
        if note:
            notes.append(note)
    return problems, notes


def _token_problem(
    name: str, secret: SecretStr | None, shape: re.Pattern[str], expected: str, where: str
) -> str | None:
    if secret is None:
        return f"{name} is not set ({where})"
    value = secret.get_secret_value()
    if _has_blank(value):
        return f"{name} has spaces, quotes or line breaks in it: copy the token alone"
    if shape.fullmatch(value):
        return None
    kind = _kind_of(value)
    if kind is not None:
        return f"{name} does not look like {expected}: it looks like {kind}"
    return f"{name} does not look like {expected} ({where})"


def _signing_secret_problem(secret: SecretStr | None) -> tuple[str | None, str | None]:
    if secret is None:
        return (
            "SLACK_SIGNING_SECRET is not set (`serve` checks every request with it: "
            "Basic Information → App Credentials → Signing Secret)"
        ), None
    value = secret.get_secret_value()
    if _has_blank(value):
        return "SLACK_SIGNING_SECRET has spaces, quotes or line breaks in it", None
    kind = _kind_of(value)
    if kind is not None:
        return (
            f"SLACK_SIGNING_SECRET looks like {kind}, not a signing secret "
            "(Basic Information → App Credentials → Signing Secret)"
        ), None
    if len(value) < _MIN_SECRET or not value.isascii() or not value.isprintable():
        return (
            "SLACK_SIGNING_SECRET is not a plausible signing secret "
            "(Slack's are 32 hexadecimal characters)"
        ), None
    if not _SLACK_SECRET.fullmatch(value):
        return None, (
            "SLACK_SIGNING_SECRET is not 32 hexadecimal characters like Slack's; "
            "if Slack's requests are refused (401), check it"
        )
    return None, None


def _has_blank(value: str) -> bool:
    return any(c.isspace() or c in "\"'`" or not c.isprintable() for c in value)


def _kind_of(value: str) -> str | None:
    for prefix, kind in _KINDS:
        if value.startswith(prefix):
            return kind
    return None
