"""Slack's request bodies, parsed by us: a slash command is a form; a click, a view or an
event is JSON, either whole or in the form's `payload` field.

Bolt guesses from the text instead (a command whose text merely contains the word "payload"
came out as an empty dict and was dropped), so every verified body is parsed here and Bolt is
handed the result.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from bot.core.text import json_object

FORM = "application/x-www-form-urlencoded"


def parse_body(raw: bytes, content_type: str | None) -> dict[str, Any] | None:
    """The body as a dict, or None when it is no shape Slack sends (not UTF-8, not a form
    or JSON object, a `payload` that is not a JSON object, JSON nested past the parser's
    recursion limit)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        return json_object(text)
    try:
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return None
    form = dict(fields)
    if "payload" in form and "command" not in form:
        return json_object(form["payload"])
    return form
