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
_CHILD = "bot.store.migrate_child_main"  # named, not imported: the child imports the store


async def upgrade_in_child(url: str) -> None:
    """Brings the schema at `url` to head in a child process (migrate_child_main.py); raises what
    the upgrade raised there (or a StoreError if the child died without saying)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    level = logging.getLogger("alembic").getEffectiveLevel()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # the parent's bot package (PYTHONPATH above), never one in the working directory
        "-c",
        f"from {_CHILD} import main; raise SystemExit(main())",
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
        # pickled by our own child (its `_portable`), read from its pipe: no one else's bytes
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
