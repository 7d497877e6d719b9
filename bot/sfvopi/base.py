"""The one HTTP engine of the SFVoPI client: the key header, one attempt, the retry loop and the
envelope every endpoint answers in. Each endpoint only says how to read its own answer."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.core import text
from bot.errors import (
    ApiServerError,
    InvalidKey,
    SfvopiError,
    TransportFailure,
    Unauthorized,
    UnexpectedResponse,
)

__all__ = ["DEFAULT_BASE_URL", "Answer", "Engine", "Failure", "Observer"]

log = logging.getLogger("bot.sfvopi.client")

DEFAULT_BASE_URL = "https://prod-api.superfone.co.in/superfone"
UNAUTHORIZED_MESSAGE = "UnAuthorized, Please Provide Valid API Key"
APP_NOT_FOUND_MESSAGES = frozenset({"App not found", "SFVoPI app not found"})
MESSAGE_LIMIT = 500

Observer = Callable[[str, int | str, float], None]
"""Told of each HTTP attempt: the endpoint template, the status code (or what happened
instead: timeout, connect_error, dropped, transport_error) and the seconds it took."""

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """One failed attempt; `ambiguous` when the call may have been applied all the same."""

    error: SfvopiError
    ambiguous: bool


@dataclass(frozen=True)
class Answer:
    """One HTTP answer read as SFVoPI's envelope: whether it was JSON, the object, its message."""

    status: int
    is_json: bool
    body: dict[str, Any] | None
    message: str | None
    attempt: int

    @property
    def data(self) -> object:
        return self.body.get("data") if self.body is not None else None

    def unexpected(self, what: str, *, maybe_applied: bool = False) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"HTTP {self.status}, {what}",
            status_code=self.status,
            attempts=self.attempt,
            maybe_applied=maybe_applied,
        )

    def common(self) -> Failure:
        """What every endpoint's 401, 5xx and undocumented statuses mean; raises if final."""
        if self.status == 401:
            raise Unauthorized(
                self.message or UNAUTHORIZED_MESSAGE, status_code=401, attempts=self.attempt
            )
        if 500 <= self.status <= 599:
            error = ApiServerError(
                self.message or f"HTTP {self.status}",
                status_code=self.status,
                attempts=self.attempt,
            )
            return Failure(error, ambiguous=True)
        raise self.unexpected("undocumented status")


@functools.cache
def _tls() -> SSLContext:
    """The TLS context every client shares, as httpx makes it with trust_env off: loading the
    CA bundle is most of what making a client costs (tens of milliseconds each)."""
    return httpx.create_ssl_context(trust_env=False)


class Engine:
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
            verify=_tls(),
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

    async def _call(
        self,
        api_key: SecretStr,
        method: str,
        path: str,
        endpoint: str,
        interpret: Callable[[Answer, bool], T | Failure],
        *,
        body: dict[str, Any] | None = None,
        ambiguous_before: bool = False,
        retry_ambiguous: bool = True,
        changes: bool = True,
        first: int = 1,
        last: int | None = None,
    ) -> T:
        """Attempts `first`..`last` (default: up to `tries`) until `interpret` accepts an answer.

        A failure that may have applied is retried only with `retry_ambiguous` (reads, and the
        DELETEs, which read a later 404 as done); otherwise it is raised at once, marked
        `maybe_applied`, for the caller to check before trying again. A read (`changes`
        False) has nothing to apply: its failures are never `maybe_applied`."""
        headers = {"X-API-Key": _header_value(api_key)}
        url = self.base_url + path
        ambiguous = ambiguous_before
        last = self.tries if last is None else last
        for attempt in range(first, last + 1):
            started = time.perf_counter()
            try:
                response = await self._http.request(method, url, headers=headers, json=body)
            except httpx.TransportError as exc:
                self._observe(endpoint, _transport_status(exc), started)
                failure = _transport_failure(exc, attempt)
            else:
                self._observe(endpoint, response.status_code, started)
                outcome = interpret(_answer(response, attempt), ambiguous)
                if not isinstance(outcome, Failure):
                    return outcome
                failure = outcome
            ambiguous = ambiguous or (failure.ambiguous and changes)
            if failure.ambiguous and not retry_ambiguous:
                failure.error.maybe_applied = True
                raise failure.error
            if attempt == last:
                if isinstance(failure.error, TransportFailure) and ambiguous:
                    failure.error.maybe_applied = True
                raise failure.error
            delay = self.backoff * 2 ** (attempt - 1) * random.uniform(1.0, 1.1)
            log.warning(
                "SFVoPI %s %s: attempt %d/%d failed (%s); retrying in %.3fs",
                method,
                path,
                attempt,
                last,
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


def seg(value: str) -> str:
    """One path segment, `+` and `/` percent-encoded."""
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


def _transport_failure(exc: httpx.TransportError, attempt: int) -> Failure:
    """Name the failure; only a refused or never-made connection proves nothing was sent."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure(TransportFailure("timeout", attempts=attempt), ambiguous=False)
    if isinstance(exc, httpx.ConnectError):
        return Failure(TransportFailure("could not connect", attempts=attempt), ambiguous=False)
    if isinstance(exc, httpx.TimeoutException):
        return Failure(TransportFailure("timeout", attempts=attempt), ambiguous=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return Failure(TransportFailure("connection dropped", attempts=attempt), ambiguous=True)
    return Failure(
        TransportFailure(f"transport error: {type(exc).__name__}", attempts=attempt),
        ambiguous=True,
    )


def _answer(response: httpx.Response, attempt: int) -> Answer:
    try:
        body = json.loads(response.content)
    except ValueError:
        return Answer(response.status_code, False, None, None, attempt)
    obj = body if isinstance(body, dict) else None
    return Answer(response.status_code, True, obj, _message(obj), attempt)


def _message(body: dict[str, Any] | None) -> str | None:
    """SFVoPI's message, as it will be stored and shown: nothing invisible or unencodable."""
    message = body.get("message") if body is not None else None
    if not isinstance(message, str):
        return None
    message = text.visible(message)
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"
