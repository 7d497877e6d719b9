"""RFC 9457 problem details: every refusal of the HTTP API as `application/problem+json`.

The bot's error tree maps onto HTTP once, here, so a refusal reads the same as in Slack (the
same `.message`) and a client can branch on `type` and `status` alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.errors import (
    AlreadyPending,
    ApiProblem,
    BotError,
    Conflict,
    InvalidRequest,
    KeyReused,
    MembershipPending,
    NotAllowed,
    OverLimit,
    RecordingDelayed,
    RequestNotFound,
    StoreError,
)

__all__ = ["PROBLEMS", "PROBLEM_JSON", "Problem", "problem_for"]

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:sfvopi-bot:problem:"

PROBLEMS: dict[str, tuple[int, str]] = {
    # slug: (status, title) -- the OpenAPI document lists the same table
    "malformed-body": (400, "The body is not a request this API takes"),
    "bad-parameter": (400, "A path or query parameter is malformed"),
    "unauthenticated": (401, "A valid bearer token is required"),
    "not-allowed": (403, "Not allowed"),
    "not-found": (404, "No such request or route"),
    "method-not-allowed": (405, "Method not allowed"),
    "body-too-slow": (408, "The body did not arrive in time"),
    "conflict": (409, "The request is not in a state that allows this"),
    "already-pending": (409, "A target already waits in a pending request"),
    "body-too-large": (413, "The body is too large"),
    "unsupported-media-type": (415, "The body must be application/json"),
    "invalid-request": (422, "The request is not valid"),
    "idempotency-key-reused": (422, "The Idempotency-Key was used with a different request"),
    "too-many-waits": (429, "Too many waits in flight for this client"),
    "over-limit": (429, "A limit of the org's policy is reached; nothing was filed"),
    "internal": (500, "Internal error"),
    "unavailable": (503, "Unavailable for a moment; try again"),
}


@dataclass(frozen=True)
class Problem:
    """A refusal on its way to the client: a slug of PROBLEMS, a detail for the person
    reading it, extension members, and headers (WWW-Authenticate, Retry-After)."""

    slug: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return PROBLEMS[self.slug][0]

    @property
    def title(self) -> str:
        return PROBLEMS[self.slug][1]

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=json.dumps(self.body()).encode(),
            headers={"Content-Type": PROBLEM_JSON, **self.headers},
        )


def problem_for(error: BotError) -> Problem:
    """The problem a refusal or a store failure is, with the bot's own words as its detail."""
    if isinstance(error, ApiProblem):
        return Problem(error.slug, error.message, error.headers, dict(error.extensions))
    if isinstance(error, AlreadyPending):
        detail = error.message.replace("add `--again`", 'set "again": true')
        return Problem("already-pending", detail, extensions={"pending_request": error.request_id})
    if isinstance(error, InvalidRequest):
        return Problem("invalid-request", error.message)
    if isinstance(error, KeyReused):
        return Problem("idempotency-key-reused", error.message)
    if isinstance(error, OverLimit):
        return _over_limit(error)
    if isinstance(error, NotAllowed):
        return Problem("not-allowed", error.message)
    if isinstance(error, RequestNotFound):
        return Problem("not-found", error.message)
    if isinstance(error, Conflict):
        return Problem("conflict", error.message)
    if isinstance(error, MembershipPending):
        return Problem("unavailable", error.message, headers={"Retry-After": "1"})
    if isinstance(error, RecordingDelayed):  # it ran: saying "try again" would run it twice
        return Problem("unavailable", error.message)
    if isinstance(error, StoreError):
        return Problem(
            "unavailable",
            "the database did not answer; nothing was changed unless this says otherwise, "
            "try again in a moment",
            headers={"Retry-After": "2"},
        )
    return Problem("internal", "the bot could not do this; its log says why")


def _over_limit(error: OverLimit) -> Problem:
    """429 with Retry-After and `frees_at` (when the same request would fit); a 403 when it
    never would (the request alone is over the limit: waiting does not help)."""
    if error.frees_at is None or error.wait is None:
        return Problem("not-allowed", error.message)
    stamp = datetime.fromtimestamp(math.ceil(error.frees_at), UTC).isoformat()
    return Problem(
        "over-limit",
        error.message,
        headers={"Retry-After": str(max(1, math.ceil(error.wait)))},
        extensions={"frees_at": stamp.replace("+00:00", "Z")},
    )
