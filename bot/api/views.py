"""A request as the HTTP API shows it (pure): state, approvals and per-target results.

Times are RFC 3339 in UTC; every field is always present (null when it does not apply), so a
client in any language reads one shape (the OpenAPI document's `Request`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.core.models import Request, Status, TargetState
from bot.core.preview import StoredPreview

__all__ = ["TARGET_FIELDS", "request_view", "rfc3339"]

BASE = "/api/v1"
TARGET_FIELDS = ("app_id", "number", "outcome", "api_status", "message", "attempts", "new_app_id")
"""Every field of a target's result, always present (the OpenAPI document's `TargetResult`)."""


def rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return (
        dt.datetime.fromtimestamp(epoch, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def request_view(request: Request, preview: StoredPreview | None = None) -> dict[str, Any]:
    """The request, with what it touches as last read from SFVoPI (`preview`, if any)."""
    return {
        "id": request.id,
        "org": request.org,
        "action": request.action.value,
        "state": request.status.value,
        "final": request.status.final,
        "requester": request.requester,
        "filed_by_step": request.filed_by_step,
        "reason": request.reason,
        "approvals": {
            "needed": request.approvals_needed,
            "given": [
                {"by": a.approver, "at": rfc3339(a.at), "note": a.note} for a in request.approvals
            ],
        },
        "decided_by": request.decided_by,
        "decision_note": request.decision_note,
        "created_at": rfc3339(request.created_at),
        "expires_at": rfc3339(request.expires_at),
        "finished_at": rfc3339(request.finished_at),
        "run_at": rfc3339(request.run_at) if request.status is Status.SCHEDULED else None,
        "run_after": rfc3339(request.run_after),
        "targets": [_target(t) for t in request.targets],
        "break_glass": _break_glass(request),
        "undoes": request.undoes,
        "preview": _preview(preview),
        "links": {
            "self": f"{BASE}/requests/{request.id}",
            "cancel": f"{BASE}/requests/{request.id}/cancel",
            "undo": f"{BASE}/requests/{request.id}/undo",
        },
    }


def _target(state: TargetState) -> dict[str, Any]:
    return {
        "app_id": state.target.app_id,
        "number": state.target.number,
        "outcome": state.outcome.value if state.outcome is not None else None,
        "api_status": state.status_code,
        "message": state.message,
        "attempts": state.attempts,
        "new_app_id": state.new_app_id,
    }


def _break_glass(request: Request) -> dict[str, Any] | None:
    if not request.break_glass:
        return None
    return {
        "incident": request.incident,
        "review": request.review.value if request.review is not None else None,
        "reviewed_by": request.reviewed_by,
        "review_note": request.review_note,
        "review_due_at": rfc3339(request.review_due_at),
    }


def _preview(stored: StoredPreview | None) -> dict[str, Any] | None:
    """The latest preview: when and why it was read, its fingerprint, and what it showed."""
    if stored is None:
        return None
    return {
        "seq": stored.seq,
        "purpose": stored.purpose.value,
        "read_at": rfc3339(stored.taken_at),
        "fingerprint": stored.fingerprint,
        **stored.preview.shown(fields=False),
    }
