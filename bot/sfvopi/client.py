"""Async client for the two destructive SFVoPI endpoints: unlink a number, delete an app.

It knows nothing of approvals. It validates ids before they reach a URL, retries only what
is safe to retry, and tells "already gone because our earlier attempt worked" apart from
"never there" (see the reference pages in the design notes for the contract).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.core import ids, text
from bot.errors import (
    ApiNotFound,
    ApiServerError,
    AppNotFound,
    InvalidKey,
    NumberNotLinked,
    SfvopiError,
    TransportFailure,
    Unauthorized,
    UnexpectedResponse,
)

__all__ = ["DEFAULT_BASE_URL", "Deleted", "SfvopiClient"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://prod-api.superfone.co.in/superfone"
UNAUTHORIZED_MESSAGE = "UnAuthorized, Please Provide Valid API Key"
APP_NOT_FOUND_MESSAGES = frozenset({"App not found", "SFVoPI app not found"})
NUMBER_NOT_LINKED_MESSAGE = "Number not linked to this app"
MESSAGE_LIMIT = 500
UNLINK_ENDPOINT = "DELETE /sfvopi/apps/{app_id}/numbers/{number}"
DELETE_ENDPOINT = "DELETE /sfvopi/apps/{app_id}"

Observer = Callable[[str, int | str, float], None]
"""Told of each HTTP attempt: the endpoint template, the status code (or what happened
instead: timeout, connect_error, dropped, transport_error) and the seconds it took."""


@dataclass(frozen=True)
class Deleted:
    """The target is gone; `already_absent` when a retry found our earlier attempt had applied."""

    message: str
    attempts: int
    already_absent: bool = False


@dataclass(frozen=True)
class _Failure:
    """One failed attempt that may be retried."""

    error: SfvopiError
    ambiguous: bool


class SfvopiClient:
    """One pooled HTTP client per bot; the key is passed per call because each org has its own."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        tries: int = 3,
        backoff: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"SFVoPI base URL must be http(s)://host/…, got {base_url!r}")
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.tries = tries
        self.backoff = backoff
        self.observer = observer
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.timeout = httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout)
        self._http = httpx.AsyncClient(
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            headers={"Accept": "application/json", "User-Agent": "sfvopi-bot"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def unlink_number(
        self,
        api_key: SecretStr,
        app_id: str,
        number: str,
        *,
        ambiguous_before: bool = False,
    ) -> Deleted:
        """Unlink `number` from `app_id`; raises an `SfvopiError` unless it is gone."""
        path = f"/sfvopi/apps/{_seg(ids.app_id(app_id))}/numbers/{_seg(ids.phone_number(number))}"
        return await self._delete(api_key, path, UNLINK_ENDPOINT, ambiguous_before=ambiguous_before)

    async def delete_app(
        self, api_key: SecretStr, app_id: str, *, ambiguous_before: bool = False
    ) -> Deleted:
        """Delete `app_id` (the API unlinks its numbers); raises an `SfvopiError` unless gone."""
        path = f"/sfvopi/apps/{_seg(ids.app_id(app_id))}"
        return await self._delete(api_key, path, DELETE_ENDPOINT, ambiguous_before=ambiguous_before)

    async def _delete(
        self, api_key: SecretStr, path: str, endpoint: str, *, ambiguous_before: bool
    ) -> Deleted:
        headers = {"X-API-Key": _header_value(api_key)}
        url = self.base_url + path
        ambiguous = ambiguous_before
        for attempt in range(1, self.tries + 1):
            started = time.perf_counter()
            try:
                response = await self._http.delete(url, headers=headers)
            except httpx.TransportError as exc:
                self._observe(endpoint, _transport_status(exc), started)
                failure = _transport_failure(exc, attempt)
            else:
                self._observe(endpoint, response.status_code, started)
                outcome = _interpret(response, attempt, ambiguous=ambiguous)
                if isinstance(outcome, Deleted):
                    return outcome
                failure = outcome
            ambiguous = ambiguous or failure.ambiguous
            if attempt == self.tries:
                if isinstance(failure.error, TransportFailure) and ambiguous:
                    failure.error.maybe_applied = True
                raise failure.error
            delay = self.backoff * 2 ** (attempt - 1) * random.uniform(1.0, 1.1)
            log.warning(
                "SFVoPI DELETE %s: attempt %d/%d failed (%s); retrying in %.3fs",
                path,
                attempt,
                self.tries,
                failure.error.message,
                delay,
            )
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _observe(self, endpoint: str, status: int | str, started: float) -> None:
        if self.observer is None:
            return
        try:
            self.observer(endpoint, status, time.perf_counter() - started)
        except Exception:  # a metrics bug never turns an API answer into a failure
            log.exception("the SFVoPI call observer failed")


def _seg(value: str) -> str:
    return quote(value, safe="")


def _header_value(api_key: SecretStr) -> str:
    value = api_key.get_secret_value()
    if not value or value != value.strip() or not all(" " <= c <= "~" for c in value):
        raise InvalidKey("the API key is empty or holds characters a header cannot carry")
    return value


def _transport_status(exc: httpx.TransportError) -> str:
    """What came instead of a status code, in a word."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "dropped"
    return "transport_error"


def _transport_failure(exc: httpx.TransportError, attempt: int) -> _Failure:
    """Name the failure; only a refused or never-made connection proves nothing was sent."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return _Failure(TransportFailure("timeout", attempts=attempt), ambiguous=False)
    if isinstance(exc, httpx.ConnectError):
        return _Failure(TransportFailure("could not connect", attempts=attempt), ambiguous=False)
    if isinstance(exc, httpx.TimeoutException):
        return _Failure(TransportFailure("timeout", attempts=attempt), ambiguous=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return _Failure(TransportFailure("connection dropped", attempts=attempt), ambiguous=True)
    return _Failure(
        TransportFailure(f"transport error: {type(exc).__name__}", attempts=attempt),
        ambiguous=True,
    )


def _json(response: httpx.Response) -> tuple[bool, dict[str, Any] | None]:
    """Whether the body is JSON at all, and the object if it is one."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return False, None
    return True, body if isinstance(body, dict) else None


def _message(body: dict[str, Any] | None) -> str | None:
    """SFVoPI's message, as it will be stored and shown: nothing invisible or unencodable."""
    message = body.get("message") if body is not None else None
    if not isinstance(message, str):
        return None
    message = text.visible(message)
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


def _interpret(response: httpx.Response, attempt: int, *, ambiguous: bool) -> Deleted | _Failure:
    """Map one HTTP answer to success, a retryable failure, or a raised final error."""
    status = response.status_code
    is_json, body = _json(response)
    message = _message(body)
    if status == 200:
        if not is_json:
            raise UnexpectedResponse(
                "HTTP 200, not JSON", status_code=status, attempts=attempt, maybe_applied=True
            )
        data = body.get("data") if body is not None else None
        if not isinstance(data, dict) or data.get("deleted") is not True or message is None:
            raise UnexpectedResponse(
                'HTTP 200, JSON without {"data": {"deleted": true}, "message": …}',
                status_code=status,
                attempts=attempt,
                maybe_applied=True,
            )
        return Deleted(message=message, attempts=attempt)
    if status == 401:
        raise Unauthorized(message or UNAUTHORIZED_MESSAGE, status_code=status, attempts=attempt)
    if status == 404:
        if message is None:
            detail = "JSON without a message" if is_json else "not JSON"
            raise UnexpectedResponse(
                f"HTTP 404, {detail}; is the base URL right?", status_code=status, attempts=attempt
            )
        if message in APP_NOT_FOUND_MESSAGES:
            kind: type[ApiNotFound] = AppNotFound
        elif message == NUMBER_NOT_LINKED_MESSAGE:
            kind = NumberNotLinked
        else:
            raise ApiNotFound(message, status_code=status, attempts=attempt)
        if ambiguous:
            return Deleted(message=message, attempts=attempt, already_absent=True)
        raise kind(message, status_code=status, attempts=attempt)
    if 500 <= status <= 599:
        error = ApiServerError(message or f"HTTP {status}", status_code=status, attempts=attempt)
        return _Failure(error, ambiguous=True)
    raise UnexpectedResponse(
        f"HTTP {status}, undocumented status", status_code=status, attempts=attempt
    )
