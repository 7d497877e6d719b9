"""The OpenAPI 3.1 document served at `GET /api/v1/openapi.json` (tests check the real
answers against it). Built from the same constants the routes enforce."""

from __future__ import annotations

from typing import Any

from bot.api.bodies import MAX_API_BODY, MAX_WAIT_SECONDS
from bot.api.openapi_undo import UNDO_REFUSALS, undo_path, undo_request
from bot.api.problems import PROBLEM_JSON, PROBLEMS, TYPE_PREFIX
from bot.api.views import TARGET_FIELDS
from bot.core.workflow import MAX_NOTE, MAX_REASON

__all__ = ["openapi_document"]

JSON = "application/json"
NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
NULLABLE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}

DESCRIPTION = f"""\
File, watch, cancel and undo SFVoPI unlink/delete requests from tools that are not Slack. Requests
go through the same approval flow as `/sfvopi` in Slack (same roles, policy, card, approvals).

Authenticate with `Authorization: Bearer <token>`; each client is named in the organization
file (`api_clients`), bound to one org, and acts as a Slack user of that org or as its own
service identity (`api:<name>`). Bodies are JSON, at most {MAX_API_BODY} bytes. Every refusal
is an RFC 9457 problem (`{PROBLEM_JSON}`) whose `type` is `{TYPE_PREFIX}<slug>`:
""" + "\n".join(f"- `{slug}` ({status}): {title}" for slug, (status, title) in PROBLEMS.items())


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An answer's object: each property always there (null when unset), and nothing else."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
        **more,
    }


def _answers(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A list of answer objects."""
    return {"type": "array", "items": _answer(properties), **more}


def _problems(*slugs: str) -> dict[str, Any]:
    statuses = sorted({PROBLEMS[s][0] for s in slugs})
    return {str(status): {"$ref": f"#/components/responses/Problem{status}"} for status in statuses}


def _schemas(max_targets: int) -> dict[str, Any]:
    return {
        "FileRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["action", "targets", "reason"],
            "properties": {
                "action": {"enum": ["unlink", "delete"]},
                "targets": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_targets,
                    "items": _ref("Target"),
                    "description": "unlink: app_id and number; delete: app_id only",
                },
                "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON},
                "org": {"type": "string", "description": "the client's own org (the default)"},
                "again": {"type": "boolean", "description": "file even if a target waits already"},
                "break_glass": _ref("BreakGlassAsk"),
                "at": {
                    "type": "string",
                    "format": "date-time",
                    "examples": ["2026-12-08T02:00+05:30"],
                    "description": "run no earlier than this (ISO 8601 with an offset or Z, as "
                    "`/sfvopi … --at`): once approved, it runs at the first moment at or after "
                    "it that its change windows are open (state scheduled, run_at). Refused "
                    "(422 invalid-request) in the past, beyond the org's schedule_within_hours, "
                    "when no window opens after it, or with break_glass",
                },
            },
        },
        "Target": {
            "type": "object",
            "additionalProperties": False,
            "required": ["app_id"],
            "properties": {
                "app_id": {"type": "string", "examples": ["sfv_app_abc123xyz456"]},
                "number": {"type": "string", "examples": ["+918000000001"]},
            },
        },
        "BreakGlassAsk": {
            "type": "object",
            "additionalProperties": False,
            "description": "run at once without a second person, where the org's break-glass "
            "policy allows the acting role; reviewed afterwards",
            "properties": {"incident": {"type": "string", "examples": ["INC-4411"]}},
        },
        "UndoRequest": undo_request(_ref),
        "CancelRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": MAX_NOTE}},
        },
        "Request": _answer(
            {
                "id": {"type": "integer", "minimum": 1},
                "org": {"type": "string"},
                "action": {"enum": ["unlink", "delete", "undo"]},
                "state": {
                    "enum": [
                        "pending",
                        "executing",
                        "succeeded",
                        "failed",
                        "unknown",
                        "denied",
                        "cancelled",
                        "expired",
                        "scheduled",
                    ],
                },
                "final": {"type": "boolean", "description": "no further change of state"},
                "requester": {"type": "string"},
                "filed_by_step": {
                    "type": "boolean",
                    "description": "filed by a Workflow Builder step: the requester is the one "
                    "the workflow named, which nobody verified",
                },
                "reason": {"type": "string"},
                "approvals": _answer(
                    {
                        "needed": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "0: break-glass",
                        },
                        "given": _answers(
                            {"by": {"type": "string"}, "at": TIME, "note": NULLABLE_STRING}
                        ),
                    }
                ),
                "decided_by": NULLABLE_STRING,
                "decision_note": NULLABLE_STRING,
                "created_at": TIME,
                "expires_at": TIME,
                "finished_at": NULLABLE_TIME,
                "run_at": NULLABLE_TIME,  # state scheduled: when it runs (its change window opens)
                "run_after": NULLABLE_TIME,  # `at` as filed: not run before it
                "targets": {"type": "array", "items": _ref("TargetResult")},
                "break_glass": {"oneOf": [{"type": "null"}, _ref("BreakGlass")]},
                "undoes": {
                    "type": ["integer", "null"],
                    "description": "an undo: the request it takes back",
                },
                "preview": {"oneOf": [{"type": "null"}, _ref("Preview")]},
                "links": _answer({k: {"type": "string"} for k in ("self", "cancel", "undo")}),
            }
        ),
        "TargetResult": {
            "type": "object",
            "additionalProperties": False,
            "required": list(TARGET_FIELDS),
            "properties": {
                "app_id": {"type": "string"},
                "number": NULLABLE_STRING,
                "outcome": {
                    "enum": ["done", "already_absent", "failed", "unknown", None],
                    "description": "null until the target has run",
                },
                "api_status": {
                    "type": ["integer", "null"],
                    "description": "the SFVoPI API's HTTP status",
                },
                "message": NULLABLE_STRING,
                "attempts": {"type": "integer", "minimum": 0},
                "new_app_id": {
                    "type": ["string", "null"],
                    "description": "an undone delete: the recreated app's new id",
                },
            },
        },
        "Preview": _answer(
            {
                "seq": {"type": "integer", "minimum": 1},
                "purpose": {
                    "enum": ["filed", "before_execution", "rebound"],
                    "description": "read after filing, right before running (the pre-image), "
                    "or before running and found changed (pending again)",
                },
                "read_at": TIME,
                "fingerprint": {"type": "string", "description": "SHA-256 of the facts shown"},
                "unreadable": {
                    "type": ["string", "null"],
                    "description": "why SFVoPI could not be read; then nothing else is known",
                },
                "apps": _answers(
                    {
                        "app_id": {"type": "string"},
                        "found": {"type": "boolean"},
                        "name": NULLABLE_STRING,
                        "status": NULLABLE_STRING,
                        "numbers": {"type": "array", "items": {"type": "string"}},
                    },
                    description="delete: each app, its name, status and linked numbers",
                ),
                "numbers": _answers(
                    {
                        "app_id": {"type": "string"},
                        "number": {"type": "string"},
                        "state": {"enum": ["linked", "not_in_app", "app_not_found"]},
                    },
                    description="unlink: each number, whether it is linked to its app now",
                ),
            },
            description="what the request touches, as last read from SFVoPI; an approval "
            "is bound to it: changed before running, the request is pending again",
        ),
        "BreakGlass": _answer(
            {
                "incident": NULLABLE_STRING,
                "review": {"enum": ["pending", "acknowledged", "flagged", None]},
                "reviewed_by": NULLABLE_STRING,
                "review_note": NULLABLE_STRING,
                "review_due_at": NULLABLE_TIME,
            }
        ),
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "pending_request": {
                    "type": "integer",
                    "description": "already-pending: the request that holds the target",
                },
                "field": {"type": "string", "description": "malformed-body: where"},
                "frees_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "over-limit: when the same request would fit",
                },
            },
        },
    }


def _responses() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for status in sorted({status for status, _title in PROBLEMS.values()}):
        titles = "; ".join(t for s, t in PROBLEMS.values() if s == status)
        response: dict[str, Any] = {
            "description": titles,
            "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
        }
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
        found[f"Problem{status}"] = response
    return found


def _request_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Request")}}}


COMMON = ("unauthenticated", "unavailable", "internal")
WITH_BODY = ("malformed-body", "body-too-large", "body-too-slow", "unsupported-media-type")
REQUEST_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def openapi_document(max_targets: int) -> dict[str, Any]:
    """The whole document; `max_targets` is the bot's SFVOPI_MAX_TARGETS."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "sfvopi-bot HTTP API", "version": "1.0.0", "description": DESCRIPTION},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/requests": {
                "post": {
                    "operationId": "fileRequest",
                    "summary": "File a request (it waits for approval like one typed in Slack)",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "the same key files one request however often "
                            "the call is retried with the same request (action, targets, "
                            "reason, org, break_glass, at; not again): a retry answers that "
                            "request; the key sent with a different request files nothing and "
                            "is refused (422 idempotency-key-reused)",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("FileRequest")}},
                    },
                    "responses": {
                        "201": {
                            **_request_answer(
                                "filed (or, for the same request, the one filed under the same key)"
                            ),
                            "headers": {"Location": {"schema": {"type": "string"}}},
                        },
                        **_problems(
                            *COMMON,
                            *WITH_BODY,
                            "not-allowed",
                            "already-pending",
                            "over-limit",
                            "invalid-request",
                            "idempotency-key-reused",
                            "bad-parameter",
                        ),
                    },
                }
            },
            "/api/v1/requests/{id}": {
                "get": {
                    "operationId": "getRequest",
                    "summary": "A request's state and per-target results; `wait` holds the "
                    "answer until it is final",
                    "parameters": [
                        REQUEST_ID,
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "description": "seconds to wait for a final state (long-poll)",
                            "schema": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": MAX_WAIT_SECONDS,
                            },
                        },
                    ],
                    "responses": {
                        "200": _request_answer("the request, final or as it stands after `wait`"),
                        **_problems(*COMMON, "bad-parameter", "not-found", "too-many-waits"),
                    },
                }
            },
            "/api/v1/requests/{id}/cancel": {
                "post": {
                    "operationId": "cancelRequest",
                    "summary": "Withdraw a pending request (the acting identity's own, or as "
                    "an admin)",
                    "parameters": [REQUEST_ID],
                    "requestBody": {
                        "required": False,
                        "content": {JSON: {"schema": _ref("CancelRequest")}},
                    },
                    "responses": {
                        "200": _request_answer("cancelled"),
                        **_problems(
                            *COMMON,
                            *WITH_BODY,
                            "bad-parameter",
                            "not-found",
                            "not-allowed",
                            "conflict",
                            "invalid-request",
                        ),
                    },
                }
            },
            "/api/v1/requests/{id}/undo": undo_path(
                REQUEST_ID, _ref, _request_answer, _problems(*COMMON, *WITH_BODY, *UNDO_REFUSALS)
            ),
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {JSON: {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a client token named in the org file by token_env",
                }
            },
            "schemas": _schemas(max_targets),
            "responses": _responses(),
        },
    }
