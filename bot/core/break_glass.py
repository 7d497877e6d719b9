"""Break-glass: what an incident id looks like, and what a review meets when it cannot be given.

Pure rules; the workflow applies them (who may, when), the store records them."""

from __future__ import annotations

import re

from bot.core import ids
from bot.core.models import Request, Review
from bot.errors import InvalidRequest

# An incident tracker's key and number, like INC-4411, SEV1-22 or PD-123: short, printable,
# nothing a card or a log line could be disguised with.
INCIDENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,15}-[0-9]{1,12}")
INCIDENT_EXAMPLE = "INC-4411"


def incident_id(text: str) -> str:
    """The incident id as stored (upper-cased), or "" for none given; InvalidRequest when it
    is not an incident id at all."""
    found = text.strip().upper()
    if found and not INCIDENT_ID.fullmatch(found):
        raise InvalidRequest(
            f"`{ids.shown(text, 30)}` is not an incident id: expected letters, a dash and a "
            f"number, like `{INCIDENT_EXAMPLE}`"
        )
    return found


def looks_like_incident(word: str) -> bool:
    """Whether a typed word is meant as an incident id (checked properly by `incident_id`)."""
    head, dash, number = word.partition("-")
    return bool(dash) and head[:1].isalpha() and number[:1].isdigit()


def review_refusal(request_id: int, request: Request | None) -> str:
    """Why a review of this request cannot be given now."""
    if request is None:
        return f"there is no request #{request_id}"
    if request.review in (Review.ACKNOWLEDGED, Review.FLAGGED):
        return f"request #{request_id} was already reviewed ({request.review.value})"
    if not request.status.final:
        return f"request #{request_id} is still running; review it once it has finished"
    return f"request #{request_id} has no review waiting"
