"""Text a stranger typed or sent, made safe to store and to show: every door (a slash command,
the HTTP API, a modal, a workflow step, the Python API) goes through these, so a reason means
the same wherever it came from.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from bot.errors import InvalidRequest

# As stored: a control (NUL above all, which PostgreSQL refuses) becomes a space; a format
# character (bidi marks and overrides, zero-width spaces and joiners, BOM) is removed, so a
# reason of nothing else is empty and nothing typed can reorder or hide what others read.
MAX_REASON = 500  # characters of a request's reason, as stored
MAX_NOTE = 500  # characters of a decision's note (deny, cancel, approve, review)

_TYPED = {"Cc": " ", "Cf": ""}
# As shown in a message: every control, format or line-breaking character is a space, and a
# lone surrogate (which no encoder takes) the replacement character.
_SHOWN = {"Cc": " ", "Cf": " ", "Zl": " ", "Zp": " ", "Cs": "\ufffd"}


def json_object(text: str | bytes) -> dict[str, Any] | None:
    """A stranger's JSON text as an object; None when it is not JSON, too deeply nested to
    read, or not an object."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def valid(text: str, what: str) -> str:
    """`text` unchanged if it is valid Unicode; InvalidRequest naming `what` if not (a lone
    surrogate, which JSON can carry as `\\ud800` but neither database nor Slack can take)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{what} contains characters that are not valid text") from None
    return text


def one_line(text: str, what: str = "the text") -> str:
    """Typed text as stored: valid (see `valid`), controls as spaces, format characters
    removed, and runs of whitespace one space."""
    valid(text, what)
    return " ".join("".join(_TYPED.get(unicodedata.category(c), c) for c in text).split())


def visible(text: str) -> str:
    """Untrusted text to show, character for character: nothing invisible or unencodable."""
    return "".join(_SHOWN.get(unicodedata.category(c), c) for c in text)
