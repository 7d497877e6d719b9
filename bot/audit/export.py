"""One audit record per event, as JSON Lines or CSV: the schema docs/audit.md documents field by
field (and docs/audit-event.schema.json checks). Pure: the store supplies the events.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from bot.audit.events import AuditEvent
from bot.core.text import json_object

__all__ = ["CSV_HEADER", "FIELDS", "csv_header", "csv_row", "jsonl_line", "record"]

FIELDS = (
    "event_id",
    "seq",
    "time",
    "request",
    "org",
    "action",
    "targets",
    "actor",
    "kind",
    "decision",
    "reason",
    "target",
    "api_outcome",
    "api_status",
    "api_message",
    "slack_step",
    "slack_channel",
    "slack_ts",
    "detail",
    "prev_hash",
    "hash",
)
CSV_HEADER = FIELDS

# the event kinds that decide a request, and the decision each records
DECISIONS = {
    "approved": "approved",
    "approval_withdrawn": "approval withdrawn",
    "denied": "denied",
    "cancelled": "cancelled",
    "expired": "expired",
    "broke_glass": "broke glass",
}
# a break-glass review's verdict, from the `reviewed` event's detail
REVIEWS = {"acknowledged": "review acknowledged", "flagged": "review flagged"}
# what a spreadsheet would read as a formula (OWASP's list: = + - @, tab, carriage return)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso_time(at: float) -> str:
    """ISO-8601 in UTC with microseconds and a Z: `2024-05-01T09:30:00.123456Z`."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(event: AuditEvent) -> dict[str, Any]:
    """The export record of one event: every field of FIELDS, null where it does not apply."""
    link = event.link
    detail = _detail(link.detail)
    is_api = link.kind == "api_result"
    slack = _slack(link.kind, detail)
    reason = _text(detail.get("note")) or _text(detail.get("reason"))
    return {
        "event_id": link.uid,
        "seq": link.seq,
        "time": iso_time(link.at),
        "request": link.request_id,
        "org": event.org,
        "action": event.action,
        "targets": list(event.targets),
        "actor": link.actor,
        "kind": link.kind,
        "decision": (
            REVIEWS.get(str(detail.get("review")))
            if link.kind == "reviewed"
            else DECISIONS.get(link.kind)
        ),
        "reason": reason,
        "target": _text(detail.get("target")) if is_api else None,
        "api_outcome": _text(detail.get("outcome")) if is_api else None,
        "api_status": _int(detail.get("status_code")) if is_api else None,
        "api_message": _text(detail.get("message")) if is_api else None,
        "slack_step": slack[0],
        "slack_channel": slack[1],
        "slack_ts": slack[2],
        "detail": detail,
        "prev_hash": link.prev_hash,
        "hash": link.hash,
    }


def jsonl_line(event: AuditEvent) -> str:
    """One record as one line of JSON (sorted keys, ASCII, so control characters are escaped)."""
    return json.dumps(record(event), sort_keys=True, ensure_ascii=True) + "\n"


def csv_header() -> str:
    return _csv_line(list(CSV_HEADER))


def csv_row(event: AuditEvent) -> str:
    """One record as one CSV row: lists and the detail as JSON, nulls empty, and every text
    cell a spreadsheet would run as a formula prefixed with an apostrophe."""
    values = record(event)
    cells: list[str] = []
    for name in FIELDS:
        value = values[name]
        if value is None:
            cells.append("")
        elif isinstance(value, list | dict):
            cells.append(_inert(json.dumps(value, sort_keys=True, ensure_ascii=True)))
        elif isinstance(value, str):
            cells.append(_inert(value))
        else:
            cells.append(str(value))
    return _csv_line(cells)


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _detail(text: str) -> dict[str, Any]:
    """The stored detail as data; a row whose text is not a JSON object reads as empty."""
    return json_object(text) or {}


def _slack(kind: str, detail: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """What was told where: (step, channel, ts) for the events that record a Slack post."""
    if kind == "card_posted":
        return "card", _text(detail.get("channel")), _text(detail.get("ts"))
    if kind == "slack_posted":
        return _text(detail.get("step")), _text(detail.get("channel")), _text(detail.get("ts"))
    if kind == "slack_refused":
        return _text(detail.get("step")), None, None
    return None, None, None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
