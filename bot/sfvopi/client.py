"""Async client for SFVoPI: the two destructive calls (unlink a number, delete an app) here,
the reads (bot/sfvopi/reads.py) and the link and create calls (bot/sfvopi/changes.py) beside.

It knows nothing of approvals. It validates ids before they reach a URL, retries only what
is safe to retry, and tells "already gone because our earlier attempt worked" apart from
"never there" (see the reference pages in the design notes for the contract).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bot.core import ids
from bot.errors import ApiNotFound, AppNotFound, NumberNotLinked
from bot.sfvopi.base import APP_NOT_FOUND_MESSAGES, DEFAULT_BASE_URL, Answer, Failure, Observer, seg
from bot.sfvopi.changes import Changes

__all__ = ["DEFAULT_BASE_URL", "Deleted", "Observer", "SfvopiClient"]

NUMBER_NOT_LINKED_MESSAGE = "Number not linked to this app"
UNLINK_ENDPOINT = "DELETE /sfvopi/apps/{app_id}/numbers/{number}"
DELETE_ENDPOINT = "DELETE /sfvopi/apps/{app_id}"


@dataclass(frozen=True)
class Deleted:
    """The target is gone; `already_absent` when a retry found our earlier attempt had applied."""

    message: str
    attempts: int
    already_absent: bool = False


class SfvopiClient(Changes):
    """One pooled HTTP client per bot; the key is passed per call because each org has its own."""

    async def unlink_number(
        self,
        api_key: SecretStr,
        app_id: str,
        number: str,
        *,
        ambiguous_before: bool = False,
    ) -> Deleted:
        """Unlink `number` from `app_id`; raises an `SfvopiError` unless it is gone."""
        path = f"/sfvopi/apps/{seg(ids.app_id(app_id))}/numbers/{seg(ids.phone_number(number))}"
        return await self._call(
            api_key, "DELETE", path, UNLINK_ENDPOINT, _deleted, ambiguous_before=ambiguous_before
        )

    async def delete_app(
        self, api_key: SecretStr, app_id: str, *, ambiguous_before: bool = False
    ) -> Deleted:
        """Delete `app_id` (the API unlinks its numbers); raises an `SfvopiError` unless gone."""
        path = f"/sfvopi/apps/{seg(ids.app_id(app_id))}"
        return await self._call(
            api_key, "DELETE", path, DELETE_ENDPOINT, _deleted, ambiguous_before=ambiguous_before
        )


def _deleted(answer: Answer, ambiguous: bool) -> Deleted | Failure:
    """Map one DELETE answer to success, a retryable failure, or a raised final error."""
    status, message = answer.status, answer.message
    if status == 200:
        if not answer.is_json:
            raise answer.unexpected("not JSON", maybe_applied=True)
        data = answer.data
        if not isinstance(data, dict) or data.get("deleted") is not True or message is None:
            raise answer.unexpected(
                'JSON without {"data": {"deleted": true}, "message": …}', maybe_applied=True
            )
        return Deleted(message=message, attempts=answer.attempt)
    if status == 404:
        if message is None:
            detail = "JSON without a message" if answer.is_json else "not JSON"
            raise answer.unexpected(f"{detail}; is the base URL right?")
        if message in APP_NOT_FOUND_MESSAGES:
            kind: type[ApiNotFound] = AppNotFound
        elif message == NUMBER_NOT_LINKED_MESSAGE:
            kind = NumberNotLinked
        else:
            raise ApiNotFound(message, status_code=status, attempts=answer.attempt)
        if ambiguous:
            return Deleted(message=message, attempts=answer.attempt, already_absent=True)
        raise kind(message, status_code=status, attempts=answer.attempt)
    return answer.common()
