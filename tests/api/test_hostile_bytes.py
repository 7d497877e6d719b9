"""Hostile bytes at the HTTP API, over raw sockets to the listener `sfvopi-bot serve` opens:
header values that are not UTF-8 are refused as any wrong value (quoting nothing, no
traceback), and a body trickled past its deadline is answered 408 before the connection
closes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from bot.api import bodies
from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from tests.support.api import API_TOKENS
from tests.support.bot import RunningBot, start_front_door
from tests.support.raw_http import exchange, request_head

SECRET = b"sekrit-bearer-not-real"
TOKEN = API_TOKENS["incident-bot"].encode()


@pytest.fixture
async def door(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    running = await start_front_door(bot_settings, orgs, slack)
    yield running
    await running.stop()


async def call(bot: RunningBot, head: bytes, body: bytes = b"", *, drip: bool = False) -> bytes:
    """One request as given (its body a byte a second when `drip`); all the bot answers
    until it closes the connection."""
    assert bot.http is not None
    return await exchange(bot.http.port, head, body, drip=drip)


def head(method: str, path: str, *headers: bytes) -> bytes:
    return request_head(method, path, *headers)


def problem_in(answer: bytes, status: int, slug: str) -> dict[str, object]:
    start, body = answer.split(b"\r\n\r\n", 1)
    assert start.split(b" ", 2)[1] == str(status).encode(), answer[:300]
    assert b"application/problem+json" in start, start
    found: dict[str, object] = json.loads(body)
    assert found["type"] == f"urn:sfvopi-bot:problem:{slug}", found
    return found


def assert_quiet(caplog: pytest.LogCaptureFixture, *never: bytes) -> None:
    records = [r for r in caplog.records if r.name.startswith(("bot", "aiohttp"))]
    assert len(records) <= 1, [r.getMessage() for r in records]
    assert not any(r.exc_info for r in records) and "Traceback" not in caplog.text
    for secret in never:
        assert secret.decode("latin-1") not in caplog.text


async def test_an_authorization_header_that_is_not_utf8_is_a_quiet_401(
    door: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for value in (SECRET + b"\xff\xfe\x80", TOKEN + b"\xff", b"\xed\xa0\x80" + TOKEN):
        answer = await call(
            door, head("GET", "/api/v1/requests/1", b"Authorization: Bearer " + value)
        )
        problem_in(answer, 401, "unauthenticated")
        assert SECRET not in answer and TOKEN not in answer
    assert_quiet(caplog, SECRET)


async def test_an_idempotency_key_that_is_not_utf8_is_a_400_quoting_nothing(
    door: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = b'{"action": "unlink", "targets": [], "reason": "INC-1"}'
    answer = await call(
        door,
        head(
            "POST",
            "/api/v1/requests",
            b"Authorization: Bearer " + TOKEN,
            b"Content-Type: application/json",
            f"Content-Length: {len(body)}".encode(),
            b"Idempotency-Key: " + SECRET + b"\xff",
        ),
        body,
    )
    problem_in(answer, 400, "bad-parameter")
    assert SECRET not in answer
    assert "Traceback" not in caplog.text and SECRET.decode() not in caplog.text


async def test_a_trickled_body_is_answered_408_before_the_connection_closes(
    door: RunningBot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the deadline shortened from 10 s (a body of 60 bytes at one a second cannot beat it),
    # and between two bytes, so the 408 and a byte do not cross
    monkeypatch.setattr(bodies, "BODY_TIMEOUT", 1.5)
    caplog.set_level(logging.DEBUG)
    answer = await call(
        door,
        head(
            "POST",
            "/api/v1/requests",
            b"Authorization: Bearer " + TOKEN,
            b"Content-Type: application/json",
            b"Content-Length: 60",
        ),
        b" " * 60,
        drip=True,
    )
    problem_in(answer, 408, "body-too-slow")
    assert "Traceback" not in caplog.text
    assert await door.services.store.list_requests(orgs=["acme", "globex"]) == []
