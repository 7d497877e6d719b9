"""The bot's log lines: text (the default) or one JSON object per line (`SFVOPI_LOG_FORMAT`).

Both formats carry the request id, org and actor when known (`bot.observability.context`),
redact anything token-shaped and every configured secret, and keep one record on one line:
in text, control characters in the message are escaped and a traceback's lines are indented
under a bar, so text a user typed can never start a line that looks like a record.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from bot.observability.context import FIELDS, current

__all__ = [
    "LOG_FORMATS",
    "ContextFilter",
    "JsonFormatter",
    "Redactor",
    "TextFormatter",
    "add_secrets",
    "configure_logging",
    "console",
]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6
"""Configured secrets shorter than this are not searched for (they would redact ordinary
words); the token-shaped pattern still applies."""

# Slack's token shapes: xoxb- (bot), xoxp- (user), xoxa-/xoxr-/xoxs-, xoxe.xoxp- and xoxe-
# (rotating tokens and their refresh tokens), xapp- (app-level), xwfp- (a workflow step's).
# Matched wherever they start, even glued to other text (an escape sequence's "[31m").
_TOKEN_SHAPED = re.compile(r"x(?:ox[a-z](?:\.xox[a-z])?|app|wfp)-[A-Za-z0-9.\-]+")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Redactor:
    """Replaces token-shaped text and the configured secrets' values with "[redacted]"."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """More values to hide (e.g. the API keys of an organization file reloaded)."""
        self._secrets.update(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)
        if self._secrets:
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def __call__(self, text: str) -> str:
        text = _TOKEN_SHAPED.sub(REDACTED, text)
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return text


class ContextFilter(logging.Filter):
    """Puts the log context (request_id, org, actor) on each record as it is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name))
        return True


def _context_of(record: logging.LogRecord) -> dict[str, str]:
    found = {name: getattr(record, name, None) for name in FIELDS}
    return {name: str(value) for name, value in found.items() if value is not None}


def escaped(text: str) -> str:
    """Control characters (newlines, ANSI escapes, line separators) as visible escapes."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO-8601, UTC), level, logger, message, the context
    fields when known, and the exception text when there is one; ASCII only, so no character
    of a message can end the line."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        entry.update(_context_of(record))
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=True, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [request_id=… org=… actor=…]`, one line per record; a
    traceback follows on lines that start with "  | "."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(_TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        record.message = escaped(self.redact(record.getMessage()))
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        context = _context_of(record)
        if context:
            line += " [" + " ".join(f"{k}={escaped(v)}" for k, v in context.items()) + "]"
        extra = ""
        if record.exc_info:
            extra = self.formatException(record.exc_info)
        elif record.exc_text:
            extra = record.exc_text
        if record.stack_info:
            extra = (extra + "\n" if extra else "") + self.formatStack(record.stack_info)
        if extra:
            lines = self.redact(extra).splitlines()
            line += "".join("\n  | " + escaped(part) for part in lines)
        return line


class _Configured:
    """What `configure_logging` set up, for `console` and `add_secrets`."""

    handler: logging.Handler | None = None
    log_format: LogFormat = "text"
    redact: Redactor | None = None


def configure_logging(
    level: str, log_format: LogFormat = "text", *, secrets: Iterable[str] = ()
) -> Redactor:
    """The root logger writes to stderr in `log_format`, with context and redaction; returns
    the redactor so secrets met later (a reloaded organization file) can be added."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    _Configured.handler, _Configured.log_format, _Configured.redact = handler, log_format, redact
    return redact


def add_secrets(secrets: Iterable[str]) -> None:
    """More values the configured logs must hide (an organization file reloaded)."""
    if _Configured.redact is not None:
        _Configured.redact.add(secrets)


def console(message: str, *, level: int = logging.WARNING) -> None:
    """A line for the operator (a signal received, a reload refused): `sfvopi-bot: message`
    on stderr, or, when logs are JSON, a record like any other so every line parses. Shown
    whatever the log level."""
    handler = _Configured.handler
    if _Configured.log_format != "json" or handler is None:
        print(f"sfvopi-bot: {message}", file=sys.stderr, flush=True)
        return
    record = logging.getLogger("bot.cli").makeRecord(
        "bot.cli", level, __file__, 0, message, (), None
    )
    handler.handle(record)
    handler.flush()
