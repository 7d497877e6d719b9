"""The calls that add: link a number to an app, create an app. Neither is retried blindly.

A link that may have applied is checked (is the number in the app's list now?) before it is
sent again. A create that may have applied is never sent again: a second create makes a
second app, so the caller gets `CreateUnknown` and must look before creating again."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import SecretStr

from bot.core import ids
from bot.errors import ApiNotFound, SfvopiError
from bot.sfvopi.base import APP_NOT_FOUND_MESSAGES, Answer, Failure, seg
from bot.sfvopi.models import AppFields, AppInfo, NumberLink
from bot.sfvopi.reads import Reads

__all__ = [
    "CREATE_ENDPOINT",
    "LINK_ENDPOINT",
    "Changes",
    "CreateRefused",
    "CreateUnknown",
    "Created",
    "LinkRefusal",
    "LinkRefused",
    "Linked",
]

LINK_ENDPOINT = "POST /sfvopi/apps/{app_id}/numbers"
CREATE_ENDPOINT = "POST /sfvopi/apps"
NOT_IN_ORG_MESSAGE = "VoIP number not found or does not belong to this org"
LINKED_ELSEWHERE_MESSAGE = "VoIP number is already linked to another SFVoPI app"

T = TypeVar("T")


class LinkRefusal(enum.StrEnum):
    """Why SFVoPI refused a link: nothing changed."""

    LINKED_ELSEWHERE = "linked_elsewhere"  # 409: the number is linked to another app
    NOT_IN_ORG = "not_in_org"  # 400: the org does not hold the number
    APP_NOT_FOUND = "app_not_found"  # 404
    INVALID_BODY = "invalid_body"  # 400 Invalid request body, or another 400


@dataclass(frozen=True)
class Linked:
    """The number is linked to the app; `found_linked` when a check found it so (our earlier
    attempt applied, or it was linked already) rather than a 200 saying it."""

    link: NumberLink
    attempts: int
    found_linked: bool = False


@dataclass(frozen=True)
class LinkRefused:
    refusal: LinkRefusal
    message: str
    status_code: int
    attempts: int


@dataclass(frozen=True)
class Created:
    app: AppInfo
    attempts: int


@dataclass(frozen=True)
class CreateRefused:
    """A definite non-2xx answer (other than 401): no app was created."""

    message: str
    status_code: int
    attempts: int


@dataclass(frozen=True)
class CreateUnknown:
    """The create was sent and no readable answer came (timeout, dropped, 5xx, garbled 2xx):
    an app may exist now. Look (`list_apps`) before creating again."""

    message: str
    status_code: int | None
    attempts: int


class Changes(Reads):
    async def link_number(
        self, api_key: SecretStr, app_id: str, number: str
    ) -> Linked | LinkRefused:
        """Link `number` (E.164) to `app_id`. Raises an `SfvopiError` when it cannot tell
        (`maybe_applied` if a check could not be made after an attempt that may have applied)."""
        path = f"/sfvopi/apps/{seg(ids.app_id(app_id))}/numbers"
        body = {"voip_number": ids.phone_number(number)}
        first = 1
        while True:
            try:
                outcome: Linked | LinkRefused = await self._call(
                    api_key,
                    "POST",
                    path,
                    LINK_ENDPOINT,
                    _link_answer,
                    body=body,
                    retry_ambiguous=False,
                    first=first,
                )
            except SfvopiError as exc:
                if not exc.maybe_applied:
                    raise
                found = await self._linked_now(api_key, app_id, number, exc)
                if found is not None:
                    return Linked(found, exc.attempts, found_linked=True)
                exc.maybe_applied = False  # looked: not linked
                if exc.attempts >= self.tries:
                    raise
                await self._sleep(self.backoff * 2 ** (exc.attempts - 1) * random.uniform(1, 1.1))
                first = exc.attempts + 1
                continue
            if isinstance(outcome, LinkRefused) and outcome.refusal is LinkRefusal.LINKED_ELSEWHERE:
                try:
                    found = await self._linked_now(api_key, app_id, number, None)
                except SfvopiError:
                    found = None
                if found is not None:  # "another app" was this one
                    return Linked(found, outcome.attempts, found_linked=True)
            return outcome

    async def _linked_now(
        self, api_key: SecretStr, app_id: str, number: str, failed: SfvopiError | None
    ) -> NumberLink | None:
        """The app's link of `number` now, or None; re-raises `failed` if the check fails."""
        try:
            links = await self.list_app_numbers(api_key, app_id)
        except SfvopiError:
            if failed is None:
                raise
            raise failed from None
        return next((link for link in links if link.voip_number == number), None)

    async def create_app(
        self, api_key: SecretStr, fields: AppFields
    ) -> Created | CreateRefused | CreateUnknown:
        """Create an app from `fields`; never sent twice once it may have been applied."""
        try:
            return await self._call(
                api_key,
                "POST",
                "/sfvopi/apps",
                CREATE_ENDPOINT,
                _create_answer,
                body=fields.body(),
                retry_ambiguous=False,
            )
        except SfvopiError as exc:
            if not exc.maybe_applied:
                raise
            return CreateUnknown(exc.describe(), exc.status_code, exc.attempts)


def _link_answer(answer: Answer, ambiguous: bool) -> Linked | LinkRefused | Failure:
    status, message = answer.status, answer.message
    if status == 200:
        return Linked(_applied(answer, NumberLink.parse), answer.attempt)
    if status == 400:
        refusal = (
            LinkRefusal.NOT_IN_ORG if message == NOT_IN_ORG_MESSAGE else LinkRefusal.INVALID_BODY
        )
        return LinkRefused(refusal, message or "HTTP 400", status, answer.attempt)
    if status == 404:
        if message in APP_NOT_FOUND_MESSAGES:
            return LinkRefused(LinkRefusal.APP_NOT_FOUND, message, status, answer.attempt)
        if message is None:
            raise answer.unexpected("no message; is the base URL right?")
        raise ApiNotFound(message, status_code=status, attempts=answer.attempt)
    if status == 409:
        message = message or LINKED_ELSEWHERE_MESSAGE
        return LinkRefused(LinkRefusal.LINKED_ELSEWHERE, message, status, answer.attempt)
    return answer.common()


def _create_answer(answer: Answer, ambiguous: bool) -> Created | CreateRefused | Failure:
    status = answer.status
    if status in (200, 201):
        return Created(_applied(answer, AppInfo.parse), answer.attempt)
    if 400 <= status <= 499 and status != 401:
        return CreateRefused(answer.message or f"HTTP {status}", status, answer.attempt)
    return answer.common()


def _applied(answer: Answer, parse: Callable[[object], T]) -> T:
    """A success's `data`; unreadable, it is an UnexpectedResponse that may have applied."""
    try:
        if not answer.is_json:
            raise ValueError("not JSON")
        return parse(answer.data)
    except ValueError as exc:
        raise answer.unexpected(f"unreadable data: {exc}", maybe_applied=True) from None
