"""Schema upgrades in a short-lived child process, so a serving process never loads Alembic.

Alembic and Mako, once imported, stay resident for the life of the process (~12 MB of RSS,
issue 16); run in-process, a first start on a new database would carry them until it stops.
The child upgrades exactly as in-process (bot/store/migrate.py, inside a Database write
transaction), so it takes the same locks and replicas starting together still take turns.

The parent sends the URL on stdin (on the command line, `ps` would show its password). The
child answers on stdout, one JSON object a line: {"log": ...} for each log record, handled
again by the parent's logging, then {"ok": true} or {"error": ...}, the exception pickled
so that the parent raises the same one (SchemaTooNew with its message, say).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from bot.errors import StoreError

__all__ = ["upgrade_in_child"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where `bot` is, for the child
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


async def upgrade_in_child(url: str) -> None:
    """Brings the schema at `url` to head in a child process (`main` below); raises what
    the upgrade raised there (or a StoreError if the child died without saying)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    level = logging.getLogger("alembic").getEffectiveLevel()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # the parent's bot package (PYTHONPATH above), never one in the working directory
        "-c",  # not -m: bot.store imports this module, runpy would load it twice
        f"from {__name__} import main; raise SystemExit(main())",
        str(level),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await child.communicate(url.encode())
    except BaseException:  # cancelled (a stop during start-up): the child must not linger
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    outcome: dict[str, Any] | None = None
    for line in out.splitlines():
        message = json.loads(line)  # the child's stdout carries nothing else (see main)
        if "log" in message:
            _handle(message["log"])
        else:
            outcome = message
    if outcome is not None and "error" in outcome:
        # pickled by our own child (`_portable`), read from its pipe: no one else's bytes
        raise pickle.loads(base64.b64decode(outcome["error"]))  # noqa: S301
    if outcome is None or child.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise StoreError(
            f"upgrading the database schema failed: its process exited with "
            f"{child.returncode}" + (f" ({' / '.join(tail)})" if tail else "")
        )


def _handle(fields: dict[str, Any]) -> None:
    """A child's log record, through the parent's loggers, handlers and format."""
    record = logging.makeLogRecord(fields)
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


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
    from bot.store.database import Database  # here: bot.store.database imports this module

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
