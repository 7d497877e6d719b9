"""The read calls: an app's numbers, one app, all apps, the org's unused numbers.

Reads change nothing, so every transport error and 5xx is retried like the safe calls are."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import SecretStr

from bot.core import ids
from bot.errors import ApiNotFound, AppNotFound
from bot.sfvopi.base import APP_NOT_FOUND_MESSAGES, Answer, Engine, Failure, seg
from bot.sfvopi.models import AppInfo, AvailableNumber, NumberLink, parse_list

__all__ = [
    "APPS_ENDPOINT",
    "APP_ENDPOINT",
    "AVAILABLE_ENDPOINT",
    "NUMBERS_ENDPOINT",
    "Reads",
    "read_answer",
]

NUMBERS_ENDPOINT = "GET /sfvopi/apps/{app_id}/numbers"
APP_ENDPOINT = "GET /sfvopi/apps/{app_id}"
APPS_ENDPOINT = "GET /sfvopi/apps"
AVAILABLE_ENDPOINT = "GET /sfvopi/available-numbers"

T = TypeVar("T")


class Reads(Engine):
    async def list_app_numbers(self, api_key: SecretStr, app_id: str) -> list[NumberLink]:
        """The numbers linked to `app_id` now; raises `AppNotFound` or another `SfvopiError`."""
        path = f"/sfvopi/apps/{seg(ids.app_id(app_id))}/numbers"
        return await self._read(api_key, path, NUMBERS_ENDPOINT, read_answer(_links, True))

    async def get_app(self, api_key: SecretStr, app_id: str) -> AppInfo:
        """One app; raises `AppNotFound` when SFVoPI has no such app in this org."""
        path = f"/sfvopi/apps/{seg(ids.app_id(app_id))}"
        return await self._read(api_key, path, APP_ENDPOINT, read_answer(AppInfo.parse, True))

    async def list_apps(self, api_key: SecretStr) -> list[AppInfo]:
        """Every app of the org, newest first."""
        return await self._read(api_key, "/sfvopi/apps", APPS_ENDPOINT, read_answer(_apps))

    async def available_numbers(self, api_key: SecretStr) -> list[AvailableNumber]:
        """The numbers the org holds that no app uses."""
        path = "/sfvopi/available-numbers"
        return await self._read(api_key, path, AVAILABLE_ENDPOINT, read_answer(_free))

    async def _read(
        self,
        api_key: SecretStr,
        path: str,
        endpoint: str,
        interpret: Callable[[Answer, bool], T | Failure],
    ) -> T:
        return await self._call(api_key, "GET", path, endpoint, interpret, changes=False)


def read_answer(
    parse: Callable[[object], T], app_not_found: bool = False
) -> Callable[[Answer, bool], T | Failure]:
    """How a read's answer is taken: `data` parsed on 200, the documented 404 as AppNotFound."""

    def interpret(answer: Answer, ambiguous: bool) -> T | Failure:
        if answer.status == 200:
            if not answer.is_json or answer.body is None or "data" not in answer.body:
                raise answer.unexpected('not {"data": …} JSON')
            try:
                return parse(answer.data)
            except ValueError as exc:  # the parse names the field
                raise answer.unexpected(f"unreadable data: {exc}") from None
        if answer.status == 404 and app_not_found:
            if answer.message in APP_NOT_FOUND_MESSAGES:
                raise AppNotFound(answer.message, status_code=404, attempts=answer.attempt)
            if answer.message is None:
                raise answer.unexpected("no message; is the base URL right?")
            raise ApiNotFound(answer.message, status_code=404, attempts=answer.attempt)
        return answer.common()

    return interpret


def _links(raw: object) -> list[NumberLink]:
    return parse_list(raw, NumberLink.parse)


def _apps(raw: object) -> list[AppInfo]:
    return parse_list(raw, AppInfo.parse)


def _free(raw: object) -> list[AvailableNumber]:
    return parse_list(raw, AvailableNumber.parse)
