"""A stranger on the internet cannot write the bot's log or make it parse: the signature is
checked over the raw bytes first, a refusal is a 401 and at most one counted log line."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

import aiohttp
import pytest

import bot.slack.http as http_module
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot

FORM = "application/x-www-form-urlencoded"
FORGED = (
    "2026-01-01 00:00:00,000 INFO bot.core.workflow: request 7 approved by U0BOB, executing\r\n"
    "2026-01-01 00:00:01,000 WARNING bot.slack.http: \x1b[2Jrequest 8 approved, executing"
)
MIB = 1024 * 1024


def unsigned_headers(**extra: str) -> dict[str, str]:
    """Headers shaped like Slack's (fresh timestamp, well-formed signature) but not its HMAC."""
    return {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
        **extra,
    }


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with http.post(
        url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
    ) as response:
        await response.read()
        return response.status


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("bot", "slack_bolt", "aiohttp"))]


async def test_forged_log_lines_in_an_unsigned_body_never_reach_the_log(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = ("text=" + FORGED + "\n" * 20 + "x" * 1000).encode()
    async with aiohttp.ClientSession() as http:
        assert await post(http, bot.url, body, unsigned_headers()) == 401
    records = request_records(caplog)
    assert len(records) <= 1, [r.getMessage() for r in records]
    logged = caplog.text
    assert "approved" not in logged and "executing" not in logged and "\x1b" not in logged
    assert "xxxxxxxx" not in logged
    for record in records:
        assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


async def test_fifty_unsigned_megabyte_bodies_grow_the_log_by_a_line(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = b"text=" + (FORGED.encode() + b"\n") * (MIB // (len(FORGED) + 1) - 1)
    assert MIB - 1000 < len(body) <= MIB
    async with aiohttp.ClientSession() as http:
        for _ in range(50):
            assert await post(http, bot.url, body, unsigned_headers()) == 401
    assert len(caplog.text.encode()) <= 500, caplog.text[:2000]
    assert len(request_records(caplog)) <= 1


@pytest.mark.parametrize(
    "stamp",
    ["abc", "9" * 5000, "1" + "0" * 30, "-1", "1e9", " 1 ", "١٢٣٤٥٦٧٨٩٠", "", "\u00e9t\u00e9"],
    ids=[
        "letters",
        "5000-digits",
        "huge",
        "negative",
        "float",
        "spaces",
        "arabic",
        "empty",
        "latin1",
    ],
)
async def test_a_malformed_timestamp_is_a_quiet_401(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, stamp: str
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = unsigned_headers()
    headers["X-Slack-Request-Timestamp"] = stamp
    async with aiohttp.ClientSession() as http:
        assert await post(http, bot.url, b"command=%2Fsfvopi&text=help", headers) == 401
    records = request_records(caplog)
    assert len(records) <= 1
    assert not any(r.exc_info for r in records)
    assert "Traceback" not in caplog.text


async def test_a_stale_or_resigned_request_is_refused(bot: RunningBot, slack: SlackStandin) -> None:
    body = b"command=%2Fsfvopi&text=help&user_id=U0ALICE&channel_id=C0OPS"
    async with aiohttp.ClientSession() as http:
        stale = slack.sign(body, timestamp=int(time.time()) - 10 * 60)
        assert await post(http, bot.url, body, {"Content-Type": FORM, **stale}) == 401
        tampered = slack.sign(body)
        assert await post(http, bot.url, body + b"&x=1", {"Content-Type": FORM, **tampered}) == 401


async def test_an_oversized_body_is_refused_before_it_is_read(bot: RunningBot) -> None:
    """Content-Length past the bound: 413 at once, with the body never sent."""
    host, port = "127.0.0.1", int(bot.url.split(":")[2].split("/")[0])
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in unsigned_headers(**{"Content-Length": str(100 * MIB)}).items()
        )
        writer.write(f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode())
        writer.write(b"a=" + b"x" * 1000)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 60)
        assert status_line.startswith(b"HTTP/1.1 413"), status_line
    finally:
        writer.close()


async def test_an_unsigned_body_of_150k_fields_is_refused_without_parsing(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real_bolt_request = http_module.AsyncBoltRequest

    def counting_bolt_request(*args: Any, **kwargs: Any) -> Any:
        parsed.append("bolt")
        return real_bolt_request(*args, **kwargs)

    real_post = aiohttp.web.BaseRequest.post

    async def counting_post(self: aiohttp.web.BaseRequest) -> Any:
        parsed.append("form")
        return await real_post(self)

    monkeypatch.setattr(http_module, "AsyncBoltRequest", counting_bolt_request)
    monkeypatch.setattr(aiohttp.web.BaseRequest, "post", counting_post)

    fields = b"&".join([b"a=1"] * 149_999)
    fields += b"&z=" + b"1" * (MIB - len(fields) - 3)
    assert len(fields) == MIB
    plain = b"f=" + b"1" * (len(fields) - 2)  # the same size, one field: the floor
    costs: dict[str, list[float]] = {"fields": [], "plain": []}
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            for name, body in (("plain", plain), ("fields", fields)):
                started = time.perf_counter()
                assert await post(http, bot.url, body, unsigned_headers()) == 401
                costs[name].append(time.perf_counter() - started)
    assert parsed == []
    ratio = statistics.median(costs["fields"]) / statistics.median(costs["plain"])
    # Parsing 150,000 fields made it ~80x the floor; unparsed it costs what its bytes cost.
    assert ratio < 10, (ratio, costs)


async def test_a_signed_command_still_answers(bot: RunningBot, slack: SlackStandin) -> None:
    result = await slack.command("U0ALICE", "help")
    assert result.ok, result
    assert result.ephemeral is not None
