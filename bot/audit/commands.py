"""The `sfvopi-bot audit` sub-commands: verify the chain, export the log. Each returns an exit
code; bot/subcommands/audit.py imports this module only when one of them runs."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pydantic

from bot.audit.export import csv_header, csv_row, jsonl_line
from bot.audit.verify import verify
from bot.config.settings import Settings, describe_error
from bot.errors import StoreError
from bot.store import Store
from bot.store.problems import bot_database_problem, describe_database_error

__all__ = ["export", "parse_since", "verify_chain"]

SHOWN_BREAKS = 20
BATCH = 1000


def parse_since(text: str) -> float:
    """An ISO-8601 date or time as a Unix time; without a zone it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since: not an ISO-8601 date or time: {text!r} (e.g. 2024-05-01T09:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def verify_chain() -> int:
    """Exit 0 with a summary when every link holds; 1 naming each break, the first first."""
    store = await _open()
    if store is None:
        return 1
    try:
        verdict = await verify(store)
    finally:
        await store.close()
    if verdict.intact:
        print(f"audit chains intact: {verdict.checked} events of {verdict.requests} requests")
        return 0
    for problem in verdict.breaks[:SHOWN_BREAKS]:
        print(problem.describe(), file=sys.stderr)
    if len(verdict.breaks) > SHOWN_BREAKS:
        print(f"… and {len(verdict.breaks) - SHOWN_BREAKS} more", file=sys.stderr)
    first = verdict.breaks[0]
    where = f"event {first.seq} of " if first.seq is not None else ""
    print(
        f"audit chain BROKEN: {len(verdict.breaks)} broken link(s) in {verdict.checked} events; "
        f"the first at {where}request #{first.request_id} ({first.kind})",
        file=sys.stderr,
    )
    return 1


async def export(*, fmt: str, output: Path | None, since: float | None, org: str | None) -> int:
    """Writes every matching event, oldest first, in batches (the log may be large)."""
    store = await _open()
    if store is None:
        return 1
    try:
        with _opened(output) as out:
            if fmt == "csv":
                out.write(csv_header())
            after = 0
            while events := await store.audit_events(
                after=after, limit=BATCH, since=since, org=org
            ):
                for event in events:
                    out.write(csv_row(event) if fmt == "csv" else jsonl_line(event))
                after = events[-1].link.seq
    except OSError as exc:
        print(f"audit export: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


@contextlib.contextmanager
def _opened(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8", newline="") as out:
        yield out


async def _open() -> Store | None:
    """The store of SFVOPI_DATABASE_URL, an existing bot database migrated to head (as the bot
    would on start); None with one line on stderr when the settings or the database are
    unusable, or the URL names no bot database (a new, empty one would look like a clean log)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        print(f"sfvopi-bot audit: {describe_error(exc)}", file=sys.stderr)
        return None
    problem = await bot_database_problem(settings.database_url)
    if problem is not None:
        print(f"sfvopi-bot audit: {problem}", file=sys.stderr)
        return None
    store = Store(settings.database_url)
    try:
        await store.start()
    except StoreError as exc:
        await store.close()
        print(f"sfvopi-bot audit: SFVOPI_DATABASE_URL: {exc.message}", file=sys.stderr)
        return None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        await store.close()
        print(
            f"sfvopi-bot audit: {describe_database_error(exc, settings.database_url)}",
            file=sys.stderr,
        )
        return None
    return store
