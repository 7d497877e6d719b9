"""Who is calling: a bearer token matched against every API client of the org file.

Each client's token is compared in constant time, and every client is compared (no early
exit), so neither timing nor order says which client, or how much of a token, matched. The
digests make the comparison independent of the given token's length too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable

from bot.core.org import ApiClient
from bot.observability.counted import CountedWarnings

__all__ = ["REALM", "Strangers", "authenticate", "bearer"]

log = logging.getLogger(__name__)

REALM = "sfvopi-bot API"
MAX_TOKEN_CHARS = 512  # a longer Authorization value is no token of ours; it is not hashed
STRANGER_LOG_INTERVAL = 60.0


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def authenticate(clients: Iterable[ApiClient], header: str | None) -> ApiClient | None:
    """The client whose token the header carries, or None."""
    token = bearer(header)
    given = _digest(token if token is not None else "")
    found: ApiClient | None = None
    for client in clients:
        matched = hmac.compare_digest(given, _digest(client.token.get_secret_value()))
        if matched and token is not None and found is None:
            found = client
    return found


class Strangers(CountedWarnings):
    """Calls refused for want of a valid token: counted by reason, the first of a quiet spell
    logged at once and the rest as one line per interval; never the header or the token."""

    def __init__(self, interval: float = STRANGER_LOG_INTERVAL) -> None:
        super().__init__(log, "refused an HTTP API call", "refused %d HTTP API calls", interval)
