"""`sfvopi-bot audit verify` on a real database: an intact log passes; a row edited, deleted,
inserted or moved with plain SQL is caught and named; an old database is chained by its upgrade.

Each case makes its history through the real bot (Slack stand-in, SFVoPI emulator), tampers as a
DBA would, then runs the command as an operator does, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit.chain import event_hash, new_uid
from bot.audit.verify import verify as verify_store
from bot.config.settings import Settings
from bot.sandbox.slack_standin import SlackStandin
from bot.store import Store
from bot.store.migrate import alembic_config
from tests.support.audit import make_history, raw_sql, run_cli
from tests.support.bot import RunningBot
from tests.support.database import StoreFactory


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def verify(url: str, tmp_path: Path) -> tuple[int, str, str]:
    result = await run_cli(["audit", "verify"], {"SFVOPI_DATABASE_URL": url}, tmp_path)
    return result.code, result.out, result.err


async def rows(conn: AsyncConnection) -> list[dict[str, object]]:
    found = await conn.execute(text("SELECT * FROM events ORDER BY id"))
    return [dict(r._mapping) for r in found]


def kinds_at(events: list[dict[str, object]], kind: str) -> int:
    return next(int(str(e["id"])) for e in events if e["kind"] == kind)


def next_of_its_request(events: list[dict[str, object]], event_id: int) -> int:
    """The id of the event that follows `event_id` in its request's chain."""
    (request,) = {e["request_id"] for e in events if e["id"] == event_id}
    return next(
        int(str(e["id"]))
        for e in events
        if e["request_id"] == request and int(str(e["id"])) > event_id
    )


async def test_an_untouched_log_verifies(
    slack: SlackStandin, bot: RunningBot, bot_settings: Settings, tmp_path: Path
) -> None:
    await make_history(slack, bot)
    async with raw_sql(bot_settings.database_url) as conn:
        events = await rows(conn)

    code, out, err = await verify(bot_settings.database_url, tmp_path)

    assert code == 0, err
    requests = {e["request_id"] for e in events}
    assert f"intact: {len(events)} events of {len(requests)} requests" in out
    # what the bot told Slack is part of the chained log, with where and which message
    told = [json.loads(str(e["detail"])) for e in events if e["kind"] == "slack_posted"]
    assert {t["step"] for t in told} >= {"thread", "notice", "outcome"}
    assert all(t["channel"] and t["ts"] for t in told)


async def edit_detail(conn: AsyncConnection, events: list[dict[str, object]]) -> int:
    target = kinds_at(events, "api_result")
    await conn.execute(
        text("UPDATE events SET detail = :d WHERE id = :i"),
        {"d": json.dumps({"outcome": "failed"}), "i": target},
    )
    return target


async def edit_actor(conn: AsyncConnection, events: list[dict[str, object]]) -> int:
    target = kinds_at(events, "approved")
    await conn.execute(text("UPDATE events SET actor = 'U0MALLORY' WHERE id = :i"), {"i": target})
    return target


async def delete_row(conn: AsyncConnection, events: list[dict[str, object]]) -> int:
    gone = kinds_at(events, "approved")
    await conn.execute(text("DELETE FROM events WHERE id = :i"), {"i": gone})
    return next_of_its_request(events, gone)  # the event that now misses its predecessor


async def insert_row(conn: AsyncConnection, events: list[dict[str, object]]) -> int:
    """A forged approval slipped in after the request, with a hash computed as the bot would,
    linked to the event before it: the event after it no longer links."""
    before = kinds_at(events, "requested")
    await conn.execute(text("UPDATE events SET id = id + 1000 WHERE id > :i"), {"i": before})
    prev = next(e for e in events if e["id"] == before)
    forged = {
        "uid": new_uid(),
        "request_id": prev["request_id"],
        "at": float(str(prev["at"])) + 1,
        "actor": "U0MALLORY",
        "kind": "approved",
        "detail": "{}",
        "prev_hash": prev["hash"],
    }
    digest = event_hash(**forged)  # type: ignore[arg-type]
    await conn.execute(
        text(
            "INSERT INTO events (id, request_id, at, actor, kind, detail, uid, prev_hash, hash) "
            "VALUES (:id, :request_id, :at, :actor, :kind, :detail, :uid, :prev_hash, :hash)"
        ),
        {**forged, "id": before + 1, "hash": digest},
    )
    return next_of_its_request(events, before) + 1000  # the real next one, now separated


async def swap_rows(conn: AsyncConnection, events: list[dict[str, object]]) -> int:
    """Two neighbouring events trade places (every column but the id)."""
    first = kinds_at(events, "approved")
    second = next_of_its_request(events, first)
    a, b = (next(e for e in events if e["id"] == i) for i in (first, second))
    columns = ("request_id", "at", "actor", "kind", "detail", "uid", "prev_hash", "hash")
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    await conn.execute(text("UPDATE events SET uid = :u WHERE id = :i"), {"u": "x", "i": first})
    await conn.execute(
        text(f"UPDATE events SET {sets} WHERE id = :id"),  # noqa: S608 - fixed column names
        {**{c: a[c] for c in columns}, "id": second},
    )
    await conn.execute(
        text(f"UPDATE events SET {sets} WHERE id = :id"),  # noqa: S608
        {**{c: b[c] for c in columns}, "id": first},
    )
    return first


Tamper = Callable[[AsyncConnection, list[dict[str, object]]], object]


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (edit_detail, "edited"),
        (edit_actor, "edited"),
        (delete_row, "deleted"),
        (insert_row, "inserted"),
        (swap_rows, "reordered"),
    ],
    ids=["edited_detail", "edited_actor", "deleted", "inserted", "reordered"],
)
async def test_a_tampered_row_is_caught_and_named(
    slack: SlackStandin,
    bot: RunningBot,
    bot_settings: Settings,
    tmp_path: Path,
    tamper: Tamper,
    kind: str,
) -> None:
    ran, _denied, _other = await make_history(slack, bot)  # then idle: no sweeper here
    url = bot_settings.database_url
    # intact before the tampering (the command's own check, in this process: the command on
    # an intact log is run end to end in test_an_untouched_log_verifies)
    assert (await verify_store(bot.services.store)).intact
    async with raw_sql(url) as conn:
        events = await rows(conn)
        at = await tamper(conn, events)  # type: ignore[misc]

    code, out, err = await verify(url, tmp_path)

    assert code == 1, out
    first = err.strip().splitlines()[0]
    assert first.startswith(f"event {at} (request #{ran}, "), err
    assert f": {kind}: " in first, err
    summary = err.strip().splitlines()[-1]
    assert re.search(rf"BROKEN: .* the first at event {at} of request #{ran} \({kind}\)", summary)


async def test_an_old_database_is_chained_by_its_upgrade(store_factory: StoreFactory) -> None:
    """Events written before revision 0006 get ids and hashes when the bot upgrades it, and
    then verify like any others (through the store, as the command does)."""
    fresh = await store_factory.open()
    async with fresh.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0005"))
        await conn.execute(
            text(
                "INSERT INTO requests (org, action, requester, reason, status, approvals_needed,"
                " created_at, expires_at, executions, announced) VALUES "
                "('acme', 'delete', 'U0ALICE', 'old', 'denied', 1, 100, 1000, 0, 0)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO events (request_id, at, actor, kind, detail) VALUES "
                "(1, 100.5, 'U0ALICE', 'requested', '{\"reason\": \"old\"}'), "
                "(1, 120, 'U0BOB', 'denied', '{}')"
            )
        )
    await fresh.close()

    upgraded: Store = await store_factory.open()
    verdict = await verify_store(upgraded)
    assert verdict.intact and verdict.checked == 2
    links = await upgraded.chain_links()
    assert len({link.uid for link in links}) == 2
    assert links[1].prev_hash == links[0].hash

    async with upgraded.engine.begin() as conn:
        await conn.execute(text("UPDATE events SET at = 121 WHERE id = 2"))
    broken = await verify_store(upgraded)
    assert [(b.seq, b.kind) for b in broken.breaks] == [(2, "edited")]


async def test_a_request_whose_whole_history_was_deleted_is_named(
    slack: SlackStandin, bot: RunningBot, bot_settings: Settings, tmp_path: Path
) -> None:
    _ran, denied, _other = await make_history(slack, bot)
    async with raw_sql(bot_settings.database_url) as conn:
        await conn.execute(text("DELETE FROM events WHERE request_id = :r"), {"r": denied})

    code, _out, err = await verify(bot_settings.database_url, tmp_path)

    assert code == 1
    assert f"request #{denied}: deleted: it has no events at all" in err
