"""The two log formats as data: what a record becomes in JSON and in text, with its context,
its exception, a secret or token in it, and user text that tries to start a line of its own."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys

import pytest

from bot.observability.context import bind, current, log_context, request_scope
from bot.observability.logs import JsonFormatter, Redactor, TextFormatter

FORGERY = "fraud\n2099-01-01 00:00:00,000 ERROR bot.forged: approved by \x1b[31mroot\u2028done"
RECORD_START = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} [A-Z]+ ")


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(FORGERY)
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("bot.test", logging.WARNING, __file__, 1, message, args, exc_info)


def as_json(rec: logging.LogRecord, redact: Redactor | None = None) -> dict[str, object]:
    line = JsonFormatter(redact or Redactor()).format(rec)
    assert "\n" not in line and line.isascii()
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_a_json_line_has_the_fields_and_the_context_when_known() -> None:
    plain = as_json(record("request %s filed", 17))
    assert set(plain) == {"time", "level", "logger", "message"}
    assert plain["level"] == "WARNING" and plain["logger"] == "bot.test"
    assert plain["message"] == "request 17 filed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(plain["time"]))

    rec = record("boom", exc=True)
    rec.request_id, rec.org, rec.actor = "17", "acme", "U0BOB"
    full = as_json(rec)
    assert (full["request_id"], full["org"], full["actor"]) == ("17", "acme", "U0BOB")
    assert "Traceback" in str(full["exception"]) and "ValueError" in str(full["exception"])


def test_user_text_cannot_forge_a_line_in_either_format() -> None:
    rec = record("reason: %s", FORGERY, exc=True)
    assert as_json(rec)["message"] == f"reason: {FORGERY}"  # kept whole, escaped by JSON

    text = TextFormatter(Redactor()).format(record("reason: %s", FORGERY, exc=True))
    first, *rest = text.split("\n")
    assert RECORD_START.match(first) and "bot.forged" in first
    assert "\\n2099" in first and "\\x1b[31m" in first and "\\u2028" in first
    assert "\x1b" not in text and "\u2028" not in text
    assert rest and all(line.startswith("  | ") for line in rest)
    assert not any(RECORD_START.match(line) for line in text.splitlines()[1:])


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-1111-2222-abcdEFGH",
        "xoxp-1-2-3-abc",
        "xapp-1-A0B1-1234-deadbeef",
        "xoxe.xoxp-1-Mi0yLTE",
        "xoxe-1-My0xLTM0",
        "xwfp-1-not-a-real-step-token",
    ],
)
def test_slack_token_shapes_are_redacted_in_message_and_exception(token: str) -> None:
    rec = record("Slack said no to %s", token)
    assert token not in json.dumps(as_json(rec)) and "[redacted]" in str(as_json(rec)["message"])
    try:
        raise RuntimeError(f"bad token {token}")
    except RuntimeError:
        rec = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", (), sys.exc_info())
    assert token not in TextFormatter(Redactor()).format(rec)
    assert token not in json.dumps(as_json(rec))


def test_configured_secrets_are_redacted_and_short_ones_ignored() -> None:
    redact = Redactor(["signing-secret-value", "key"])
    message = as_json(record("with signing-secret-value and a key"), redact)["message"]
    assert message == "with [redacted] and a key"
    redact.add(["test-key-acme-not-real"])
    text = TextFormatter(redact).format(record("key test-key-acme-not-real"))
    assert text.endswith("bot.test: key [redacted]")


def test_text_lines_carry_the_context_at_their_end() -> None:
    rec = record("card posted")
    rec.request_id, rec.org, rec.actor = "17", "acme", None
    assert TextFormatter(Redactor()).format(rec).endswith("card posted [request_id=17 org=acme]")


async def test_the_context_is_scoped_inherited_by_tasks_and_ended_with_its_block() -> None:
    class Work:
        @request_scope
        async def run(self, request_id: int) -> dict[str, str]:
            bind(org="acme")
            seen = asyncio.create_task(self.later())
            return {**current(), **await seen}

        async def later(self) -> dict[str, str]:
            return {"task": current().get("request_id", "")}

    with log_context(actor="U0BOB"):
        inside = await Work().run(17)
        assert current() == {"actor": "U0BOB"}
    assert inside == {"actor": "U0BOB", "request_id": "17", "org": "acme", "task": "17"}
    assert current() == {}
    with pytest.raises(ValueError, match="unknown log context"):
        bind(user_text="anything")
