"""What a client sends, read and checked before the workflow sees it: a bounded JSON body
(no unknown field, no wrong type, no duplicate key), a request number, a wait.

Shapes are checked here (a 400 says which field); meaning is the workflow's, exactly as for a
Slack command (its refusals become 422, 403, 409: problems.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.bounded import read_bounded
from bot.core import ids, text
from bot.core.models import Target
from bot.errors import ApiProblem, InvalidRequest, RejectedRequest

__all__ = [
    "MAX_API_BODY",
    "MAX_WAIT_SECONDS",
    "Filing",
    "cancel_reason",
    "filing",
    "idempotency_key",
    "read_json",
    "request_number",
    "wait_seconds",
]

MAX_API_BODY = 64 * 1024
"""Largest body read: 100 targets and a reason take a few KB. A bigger one is refused unread."""
BODY_TIMEOUT = 10.0  # as bot/slack/limits.BODY_TIMEOUT: a trickled body gets 408
_UNREAD = {
    413: ("body-too-large", f"the body may hold at most {MAX_API_BODY} bytes"),
    408: ("body-too-slow", "the body did not arrive in time"),
    400: ("malformed-body", "the body could not be read"),
}
"""The API's problem for each way `read_bounded` refuses a body."""
MAX_WAIT_SECONDS = 30
"""Longest long-poll (`?wait=`): well under common proxies' idle timeouts."""

FILE_FIELDS = ("action", "targets", "reason", "org", "again", "break_glass", "at")
TARGET_FIELDS = ("app_id", "number")
BREAK_GLASS_FIELDS = ("incident",)
CANCEL_FIELDS = ("reason",)
UNDO_FIELDS = ("reason", "break_glass")
_NUMBER = re.compile(r"[1-9][0-9]{0,17}")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,100}")


@dataclass(frozen=True)
class Filing:
    """A request to file, as the workflow takes it."""

    action: str
    targets: tuple[Target, ...]
    reason: str
    org: str | None = None
    again: bool = False
    break_glass: str | None = None  # an incident id, "" for none cited, None: no break-glass
    at: str | None = None  # not run before (ISO 8601 with an offset; the workflow checks it)


async def read_json(request: web.BaseRequest, *, required: bool = True) -> dict[str, Any] | None:
    """The body as a JSON object; None for an empty body when it is not `required`."""
    try:
        raw = await read_bounded(request, MAX_API_BODY, BODY_TIMEOUT)
    except RejectedRequest as rejected:
        raise ApiProblem(*_UNREAD[rejected.status]) from None
    if not raw.strip() and not required:
        return None
    kind = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise ApiProblem("unsupported-media-type", "send the body as application/json")
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiProblem("malformed-body", "the body is not a JSON document in UTF-8") from None
    if not isinstance(value, dict):
        raise ApiProblem("malformed-body", "the body must be a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError("a key given twice")
        found[key] = value
    return found


def _no_constant(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _fields(value: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in value:
        if key not in known:
            raise ApiProblem(
                "malformed-body",
                f"unknown field `{ids.shown(key)}` in {where} (expected {', '.join(known)})",
                field=where,
            )


def _text(value: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    found = value.get(key)
    if found is None:
        if required:
            raise ApiProblem("malformed-body", f"{where}.{key} is required", field=f"{where}.{key}")
        return None
    if not isinstance(found, str):
        raise ApiProblem(
            "malformed-body", f"{where}.{key} must be a string", field=f"{where}.{key}"
        )
    try:
        return text.valid(found, f"{where}.{key}")
    except InvalidRequest as exc:
        raise ApiProblem("malformed-body", exc.message, field=f"{where}.{key}") from None


def filing(body: dict[str, Any]) -> Filing:
    """A POST /requests body, shape-checked (the workflow checks what it means)."""
    _fields(body, FILE_FIELDS, "body")
    action = _text(body, "action", "body", required=True)
    reason = _text(body, "reason", "body", required=True)
    org = _text(body, "org", "body", required=False)
    again = body.get("again", False)
    if not isinstance(again, bool):
        raise ApiProblem("malformed-body", "body.again must be true or false", field="body.again")
    raw_targets = body.get("targets")
    if not isinstance(raw_targets, list):
        raise ApiProblem(
            "malformed-body",
            "body.targets must be a list of {app_id, number?} objects",
            field="body.targets",
        )
    targets = []
    for i, raw in enumerate(raw_targets):
        where = f"body.targets[{i}]"
        if not isinstance(raw, dict):
            raise ApiProblem("malformed-body", f"{where} must be an object", field=where)
        _fields(raw, TARGET_FIELDS, where)
        app_id = _text(raw, "app_id", where, required=True)
        assert app_id is not None
        targets.append(Target(app_id, _text(raw, "number", where, required=False)))
    assert action is not None and reason is not None
    at = _text(body, "at", "body", required=False)
    return Filing(action, tuple(targets), reason, org, again, _break_glass(body), at)


def _break_glass(body: dict[str, Any]) -> str | None:
    raw = body.get("break_glass")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiProblem(
            "malformed-body",
            'body.break_glass must be an object like {"incident": "INC-4411"}',
            field="body.break_glass",
        )
    _fields(raw, BREAK_GLASS_FIELDS, "body.break_glass")
    return _text(raw, "incident", "body.break_glass", required=False) or ""


def cancel_reason(body: dict[str, Any] | None) -> str:
    if body is None:
        return ""
    _fields(body, CANCEL_FIELDS, "body")
    return _text(body, "reason", "body", required=False) or ""


def undo_body(body: dict[str, Any] | None) -> tuple[str, str | None]:
    """`POST /requests/{id}/undo`'s optional body: a reason, and break-glass."""
    if body is None:
        return "", None
    _fields(body, UNDO_FIELDS, "body")
    return _text(body, "reason", "body", required=False) or "", _break_glass(body)


def request_number(text: str) -> int:
    """A request number from the path; one that cannot exist is simply not found."""
    if not _NUMBER.fullmatch(text):
        raise ApiProblem("bad-parameter", f"`{ids.shown(text)}` is not a request number")
    number = int(text)
    if number > ids.MAX_REQUEST_ID:
        raise ApiProblem("not-found", f"there is no request #{number} in your organization")
    return number


def wait_seconds(query: Any) -> int:
    """`?wait=N`: how long to hold the answer for a final state (0, the default: at once)."""
    values = query.getall("wait", [])
    if not values:
        return 0
    if len(values) > 1 or not re.fullmatch(r"[0-9]{1,3}", values[0]):
        raise ApiProblem(
            "bad-parameter", f"wait must be a whole number of seconds, 0 to {MAX_WAIT_SECONDS}"
        )
    seconds = int(values[0])
    if seconds > MAX_WAIT_SECONDS:
        raise ApiProblem(
            "bad-parameter", f"wait may be at most {MAX_WAIT_SECONDS} seconds; ask again after"
        )
    return seconds


def idempotency_key(header: str | None) -> str | None:
    """`Idempotency-Key`: the same key files one request however often the POST is retried."""
    if header is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(header):
        raise ApiProblem(
            "bad-parameter",
            "Idempotency-Key must be 1 to 100 letters, digits or . _ : -",
        )
    return header
