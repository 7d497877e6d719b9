"""The undo call's part of the OpenAPI document: `POST /api/v1/requests/{id}/undo` and its
body (bot/api/openapi.py builds the whole and hands in its helpers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.text import MAX_REASON

__all__ = ["UNDO_REFUSALS", "undo_path", "undo_request"]

JSON = "application/json"
UNDO_REFUSALS = ("bad-parameter", "not-found", "not-allowed", "conflict", "invalid-request")

Ref = Callable[[str], dict[str, str]]


def undo_request(ref: Ref) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "reason": {"type": "string", "maxLength": MAX_REASON},
            "break_glass": ref("BreakGlassAsk"),
        },
    }


def undo_path(
    request_id: dict[str, Any],
    ref: Ref,
    answer: Callable[[str], dict[str, Any]],
    problems: dict[str, Any],
) -> dict[str, Any]:
    return {
        "post": {
            "operationId": "undoRequest",
            "summary": "Undo a request that ran, within its org's undo window: a new request "
            "(action `undo`), approved like any other; an undone delete's app comes back with "
            "a new app_id",
            "parameters": [request_id],
            "requestBody": {"required": False, "content": {JSON: {"schema": ref("UndoRequest")}}},
            "responses": {"201": answer("the undo, filed"), **problems},
        }
    }
