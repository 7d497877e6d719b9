"""Hostile bytes at the HTTP front door, sent over raw sockets (aiohttp's client refuses to send
most of them) to the listener `sfvopi-bot serve` opens: each answer is a bare status that
quotes nothing sent, and each costs the log at most one counted line, never a traceback."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.slack_standin import SlackStandin
from bot.slack import http as http_module
from tests.support.bot import RunningBot, start_front_door
from tests.support.raw_http import exchange, request_head, status_of
from tests.support.slack_user import APPROVALS, UNLINK, ask, request_id_in

METRICS_TOKEN = "metrics-token-not-real"
SECRET = b"sekrit-bearer-not-real"
DEEP = 50_000


@pytest.fixture
async def door(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> AsyncIterator[RunningBot]:
    settings = bot_settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    running = await start_front_door(settings, orgs, slack)
    yield running
    await running.stop()


def port_of(bot: RunningBot) -> int:
    assert bot.http is not None
    return bot.http.port


def assert_quiet(caplog: pytest.LogCaptureFixture, *never: bytes) -> None:
    records = [r for r in caplog.records if r.name.startswith(("bot", "slack_bolt", "aiohttp"))]
    assert len(records) <= 1, [r.getMessage() for r in records]
    assert not any(r.exc_info for r in records), caplog.text[-3000:]
    assert "Traceback" not in caplog.text
    for secret in never:
        assert secret.decode("latin-1") not in caplog.text


@pytest.mark.parametrize("path", ["/metrics", "/healthz"])
async def test_an_authorization_header_that_is_not_utf8_is_a_quiet_answer(
    door: RunningBot, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    header = b"Authorization: Bearer " + SECRET + b"\xff\xfe\x80"
    for _ in range(50):
        answer = await exchange(port_of(door), request_head("GET", path, header))
        assert status_of(answer) == (401 if path == "/metrics" else 200), answer[:200]
        assert SECRET not in answer
    assert_quiet(caplog, SECRET)


@pytest.mark.parametrize(
    "line",
    [
        b"Authorization: Bearer " + SECRET + b"\x01",
        b"Authorization Bearer " + SECRET,
        b"Authorization: Bearer " + SECRET + b"\r",
    ],
    ids=["control-byte", "no-colon", "bare-cr"],
)
async def test_a_malformed_header_line_is_a_bare_400_that_quotes_nothing(
    door: RunningBot, caplog: pytest.LogCaptureFixture, line: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(20):
        answer = await exchange(port_of(door), request_head("GET", "/healthz", line))
        assert status_of(answer) == 400, answer[:200]
        assert SECRET not in answer and b"Authorization" not in answer, answer
    assert_quiet(caplog, SECRET)


@pytest.mark.parametrize("shape", ["form-payload", "events-json"])
async def test_a_signed_body_nested_fifty_thousand_deep_is_ignored_quietly(
    door: RunningBot, slack: SlackStandin, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    caplog.set_level(logging.DEBUG)
    nested = "[" * DEEP + "]" * DEEP
    if shape == "form-payload":
        body = ("payload=" + quote('{"type": "block_actions", "x": ' + nested + "}")).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        body = ('{"type": "event_callback", "event": ' + nested + "}").encode()
        kind = "application/json"
    signed = [f"{name}: {value}".encode() for name, value in slack.sign(body).items()]
    head = request_head(
        "POST",
        "/slack/events",
        f"Content-Type: {kind}".encode(),
        f"Content-Length: {len(body)}".encode(),
        *signed,
    )
    answer = await exchange(port_of(door), head, body)
    assert status_of(answer) == 200, answer[:300]
    assert answer.endswith(b"\r\n\r\n"), answer[-300:]  # an empty body
    assert_quiet(caplog)
    assert "ignored a signed request" in caplog.text and len(caplog.text) < 500


async def test_a_trickled_signed_door_body_is_answered_408_before_it_is_closed(
    door: RunningBot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the deadline shortened from 10 s (a body of 60 bytes at one a second cannot beat it),
    # and between two bytes, so the 408 and a byte do not cross
    monkeypatch.setattr(http_module, "BODY_TIMEOUT", 1.5)
    caplog.set_level(logging.DEBUG)
    head = request_head(
        "POST",
        "/slack/events",
        b"Content-Type: application/x-www-form-urlencoded",
        b"Content-Length: 60",
        f"X-Slack-Request-Timestamp: {int(time.time())}".encode(),
        b"X-Slack-Signature: v0=" + b"0" * 64,
    )
    answer = await exchange(port_of(door), head, b"a" * 60, drip=True)
    assert status_of(answer) == 408, answer[:200]
    assert_quiet(caplog)


async def test_healthz_counts_stuck_requests_and_names_them_only_for_the_metrics_token(
    door: RunningBot, slack: SlackStandin
) -> None:
    slack.refuse_channel(APPROVALS, "not_in_channel")
    request_id = request_id_in(await ask(slack, door, "U0ALICE", UNLINK))
    port = port_of(door)

    async def healthz(*headers: bytes) -> dict[str, object]:
        answer = await exchange(port, request_head("GET", "/healthz", *headers))
        assert status_of(answer) == 200, answer[:200]
        body: dict[str, object] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        return body

    for stranger in ((), (b"Authorization: Bearer not-the-token",)):
        shown = await healthz(*stranger)
        assert shown == {"ok": True, "stuck": 1}, shown  # no request number, no channel
    told = await healthz(f"Authorization: Bearer {METRICS_TOKEN}".encode())
    (stuck,) = told["stuck"]  # type: ignore[misc]
    assert stuck["request"] == request_id and "invite it there" in stuck["problem"]


async def test_without_a_metrics_token_healthz_never_names_stuck_requests(
    bot: RunningBot, slack: SlackStandin
) -> None:
    slack.refuse_channel(APPROVALS, "not_in_channel")
    await ask(slack, bot, "U0ALICE", UNLINK)
    port = int(bot.url.split(":")[2].split("/")[0])
    for headers in ((), (b"Authorization: Bearer anything",), (b"Authorization: Bearer ",)):
        answer = await exchange(port, request_head("GET", "/healthz", *headers))
        assert status_of(answer) == 200, answer[:200]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"ok": True, "stuck": 1}
