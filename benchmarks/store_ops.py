"""The store's operations on a command's path, each against the same SQL on bare `sqlite3`.

A command files a request (after asking whether its targets are already pending); its card
is claimed, posted and recorded. This times each of those store calls on a fresh SQLite file,
CPU per call over N calls, next to the same statements run with `sqlite3` in the same process
(the floor), so the ratio is what SQLAlchemy and the store's own work cost on top of SQLite.

    python benchmarks/store_ops.py [-n 500]
    PYTHONPATH=<worktree of an older commit> python benchmarks/store_ops.py   # its store
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.core.models import Action, NewRequest, Target
from bot.store import Store

FLOOR_SCHEMA = """
CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, org TEXT, action TEXT,
    requester TEXT, reason TEXT, status TEXT, created_at REAL, expires_at REAL,
    card_channel TEXT, card_ts TEXT, card_lease_until REAL);
CREATE TABLE targets (request_id INTEGER, idx INTEGER, app_id TEXT, number TEXT,
    PRIMARY KEY (request_id, idx));
CREATE INDEX ix_targets_app_number ON targets (app_id, number);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id INTEGER, at REAL,
    actor TEXT, kind TEXT, detail TEXT, hash TEXT);
CREATE INDEX ix_events_request_id ON events (request_id);
CREATE TABLE approvals (request_id INTEGER, approver TEXT, at REAL, note TEXT,
    PRIMARY KEY (request_id, approver));
"""


def timed(n: int, call: Callable[[int], object]) -> float:
    began = time.process_time()
    for i in range(n):
        call(i)
    return (time.process_time() - began) * 1000 / n


async def timed_async(n: int, call: Callable[[int], Awaitable[object]]) -> float:
    began = time.process_time()
    for i in range(n):
        await call(i)
    return (time.process_time() - began) * 1000 / n


def floor(path: Path, n: int) -> dict[str, float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(FLOOR_SCHEMA)
    now = time.time()

    def create(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        rid = db.execute(
            "INSERT INTO requests (org, action, requester, reason, status, created_at,"
            " expires_at) VALUES ('acme', 'unlink', 'U0ALICE', 'r', 'pending', ?, ?)",
            (now, now + 3600),
        ).lastrowid
        db.execute("INSERT INTO targets VALUES (?, 0, 'sfv_app_x', ?)", (rid, f"+9171{i:08d}"))
        db.execute(
            "INSERT INTO events (request_id, at, actor, kind, detail, hash)"
            " VALUES (?, ?, 'U0ALICE', 'requested', '{}', 'h')",
            (rid, now),
        )
        db.execute("COMMIT")

    def pending(i: int) -> None:
        db.execute(
            "SELECT t.app_id, t.number, r.id FROM targets t JOIN requests r ON r.id ="
            " t.request_id WHERE r.org = 'acme' AND r.status = 'pending' AND t.app_id ="
            " 'sfv_app_x' AND t.number = ?",
            (f"+9179{i:08d}",),
        ).fetchall()

    def get(i: int) -> None:
        db.execute("BEGIN")
        db.execute("SELECT * FROM requests WHERE id = ?", (i + 1,)).fetchall()
        db.execute("SELECT * FROM targets WHERE request_id = ?", (i + 1,)).fetchall()
        db.execute(
            "SELECT * FROM approvals WHERE request_id = ? ORDER BY at, approver", (i + 1,)
        ).fetchall()
        db.execute("COMMIT")

    def claim(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE requests SET card_lease_until = ? WHERE id = ? AND card_ts IS NULL",
            (now + 60, i + 1),
        )
        db.execute("COMMIT")

    def record(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE requests SET card_channel = 'C0APPROVALS', card_ts = ? WHERE id = ?"
            " RETURNING status",
            (f"{i}.0", i + 1),
        ).fetchall()
        db.execute(
            "SELECT hash FROM events WHERE request_id = ? ORDER BY id DESC LIMIT 1", (i + 1,)
        ).fetchall()
        db.execute(
            "INSERT INTO events (request_id, at, actor, kind, detail, hash)"
            " VALUES (?, ?, 'bot', 'card_posted', '{}', 'h')",
            (i + 1, now),
        )
        db.execute("COMMIT")

    out = {
        "create_request": timed(n, create),
        "pending_with_targets": timed(n, pending),
        "get": timed(n, get),
        "claim_card": timed(n, claim),
        "set_card": timed(n, record),
    }
    db.close()
    return out


async def store_ops(path: Path, n: int) -> dict[str, float]:
    store = Store(f"sqlite:///{path}")
    await store.start()
    ids: list[int] = []
    now = time.time()

    async def create(i: int) -> None:
        request, _ = await store.create_request(
            NewRequest(
                org="acme",
                action=Action.UNLINK,
                requester="U0ALICE",
                reason="r",
                targets=[Target(app_id="sfv_app_x", number=f"+9171{i:08d}")],
                now=now,
                expires_at=now + 3600,
                channel_id="C0OPS",
                dedupe_key=f"bench:{i}",
            ),
            approvals_needed=1,
        )
        ids.append(request.id)

    async def pending(i: int) -> None:
        await store.pending_with_targets(
            "acme", [Target(app_id="sfv_app_x", number=f"+9179{i:08d}")]
        )

    out = {"create_request": await timed_async(n, create)}
    out["pending_with_targets"] = await timed_async(n, pending)
    out["get"] = await timed_async(n, lambda i: store.get(ids[i]))
    out["claim_card"] = await timed_async(n, lambda i: store.claim_card(ids[i], now, 60))
    out["set_card"] = await timed_async(
        n, lambda i: store.set_card(ids[i], "C0APPROVALS", f"{i}.0", now)
    )
    await store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="calls per operation")
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory(prefix="sfvopi-store-ops-") as work:
        theirs = floor(Path(work) / "floor.db", n)
        ours = asyncio.run(store_ops(Path(work) / "store.db", n))
    print("| store operation | store | sqlite3 floor | ratio |")
    print("|---|---|---|---|")
    for name, ms in ours.items():
        print(f"| {name} | {ms:.3f} ms | {theirs[name]:.3f} ms | {ms / theirs[name]:.0f}x |")
    total, floor_total = sum(ours.values()), sum(theirs.values())
    ratio = total / floor_total
    print(f"| all five | {total:.2f} ms | {floor_total:.3f} ms | {ratio:.0f}x |")


if __name__ == "__main__":
    main()
