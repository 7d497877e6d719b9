"""The child process of bot/store/migrate_child.py: upgrades the schema, says how on stdout.

Its own module, apart from the parent's side, because it opens a Database and
bot/store/database.py starts the parent's side: one importing the other both ways was a cycle.
The answer is one JSON object a line: {"log": ...} per log record, then {"ok": true} or
{"error": ...} with the exception pickled.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import pickle
import sys
from typing import Any

from bot.errors import StoreError
from bot.store.database import Database

__all__ = ["main"]

# the only packages an exception from the child may come from: unpickling imports its module,
# and the parent must not import Alembic that way either
_RAISED_FROM = ("bot", "sqlalchemy", "builtins", "sqlite3", "asyncpg")
_RECORD_FIELDS = (
    "name",
    "levelno",
    "levelname",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "process",
    "processName",
    "thread",
    "threadName",
)


class _Forward(logging.Handler):
    """Writes each record to stdout for the parent: the message formatted, traceback as text."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = {key: getattr(record, key, None) for key in _RECORD_FIELDS}
        fields["msg"] = record.getMessage()
        if record.exc_info:
            fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
        _say({"log": fields})


_answer = sys.stdout  # main() sends anything else printed to stderr


def _say(message: dict[str, Any]) -> None:
    _answer.write(json.dumps(message, default=str) + "\n")
    _answer.flush()


def _portable(exc: BaseException) -> BaseException:
    """`exc` if the parent can raise it as it is; else a StoreError that says what it was."""
    unknown = StoreError(f"upgrading the database schema failed: {type(exc).__name__}: {exc}")
    if type(exc).__module__.partition(".")[0] not in _RAISED_FROM:
        return unknown
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 (our own exception, just pickled)
    except Exception:
        return unknown
    return exc


async def _main(url: str) -> None:
    database = Database(url)
    try:
        await database.start()
    finally:
        await database.close()


def main() -> int:
    """The child: upgrades the database whose URL is on stdin; argv[1] is the log level."""
    sys.stdout = sys.stderr  # a print() in a migration must not garble the answer
    logging.basicConfig(level=int(sys.argv[1]), handlers=[_Forward()], force=True)
    try:
        asyncio.run(_main(sys.stdin.read().strip()))
    except Exception as exc:
        _say({"error": base64.b64encode(pickle.dumps(_portable(exc))).decode()})
        return 1
    _say({"ok": True})
    return 0
