"""The work floor: the bot's work on `/sfvopi unlink` with no framework at all.

Exactly the work a command needs and nothing else: check the v0 signature, parse the form,
write the request, its target and its event in one SQLite transaction (WAL, synchronous=NORMAL,
as the bot's store), ack, and only then post the card (`chat.postMessage`) and store its ts.
No Bolt, no ORM, no queue; `sqlite3` on the event loop's thread, aiohttp for both directions.
Issue 16 measures the bot against this, not against a Bolt app that only acks.

    python benchmarks/floor_work.py --port 0 --secret S --db FILE --slack-api URL --token T

Prints `ready http://127.0.0.1:PORT/slack/events` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import signal
import sqlite3
import sys
import time
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, org TEXT NOT NULL, action TEXT NOT NULL,
    requester TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
    created_at REAL NOT NULL, channel_id TEXT, response_url TEXT,
    card_channel TEXT, card_ts TEXT);
CREATE TABLE IF NOT EXISTS targets (
    request_id INTEGER NOT NULL REFERENCES requests(id), idx INTEGER NOT NULL,
    app_id TEXT NOT NULL, number TEXT, PRIMARY KEY (request_id, idx));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id INTEGER NOT NULL REFERENCES requests(id),
    at REAL NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
"""

APPROVALS = "C0APPROVALS"
FIVE_MINUTES = 300


def signed(secret: bytes, request: web.BaseRequest, body: bytes) -> bool:
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    given = request.headers.get("X-Slack-Signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > FIVE_MINUTES:
        return False
    mac = hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v0=" + mac, given)


def build(secret: str, db: sqlite3.Connection, slack_api: str, token: str) -> web.Application:
    key = secret.encode()
    auth = {"Authorization": f"Bearer {token}"}
    session: dict[str, aiohttp.ClientSession] = {}
    cards: set[asyncio.Task[None]] = set()

    def store(form: dict[str, str], app_id: str, number: str, reason: str) -> int:
        now = time.time()
        with db:
            cursor = db.execute(
                "INSERT INTO requests (org, action, requester, reason, status, created_at,"
                " channel_id, response_url) VALUES ('acme', 'unlink', ?, ?, 'pending', ?, ?, ?)",
                (form["user_id"], reason, now, form["channel_id"], form.get("response_url")),
            )
            request_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO targets (request_id, idx, app_id, number) VALUES (?, 0, ?, ?)",
                (request_id, app_id, number),
            )
            db.execute(
                "INSERT INTO events (request_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
                (request_id, now, form["user_id"], "requested", "{}"),
            )
        return request_id

    async def post_card(request_id: int, requester: str, number: str, app_id: str) -> None:
        text = f"request #{request_id}: unlink {number} from {app_id}, asked by <@{requester}>"
        try:
            async with session["slack"].post(
                slack_api + "chat.postMessage",
                json={"channel": APPROVALS, "text": text},
                headers=auth,
            ) as response:
                answer = await response.json()
        except (aiohttp.ClientError, ValueError) as exc:
            print(f"card for #{request_id} not posted: {exc!r}", file=sys.stderr, flush=True)
            return
        if answer.get("ok"):
            with db:
                db.execute(
                    "UPDATE requests SET card_channel = ?, card_ts = ? WHERE id = ?",
                    (answer.get("channel", APPROVALS), answer["ts"], request_id),
                )

    async def events(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if not signed(key, request, body):
            return web.Response(status=401)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        words = form.get("text", "").split(maxsplit=3)
        if len(words) < 4 or words[0] != "unlink":
            return web.json_response({"response_type": "ephemeral", "text": "usage"})
        _, number, app_id, reason = words
        request_id = store(form, app_id, number, reason)
        response = web.json_response(
            {"response_type": "ephemeral", "text": f"Request #{request_id} filed."}
        )
        await response.prepare(request)
        await response.write_eof()
        task = asyncio.ensure_future(post_card(request_id, form["user_id"], number, app_id))
        cards.add(task)
        task.add_done_callback(cards.discard)
        return response

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def open_session(_app: web.Application) -> None:
        session["slack"] = aiohttp.ClientSession()

    async def close_session(_app: web.Application) -> None:
        await session["slack"].close()

    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    web_app.on_startup.append(open_session)
    web_app.on_cleanup.append(close_session)
    return web_app


def open_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)
    db.isolation_level = "IMMEDIATE"
    return db


async def serve(port: int, secret: str, db_path: str, slack_api: str, token: str) -> None:
    db = open_db(db_path)
    runner = web.AppRunner(build(secret, db, slack_api, token), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bound = runner.addresses[0][1]
    print(f"ready http://127.0.0.1:{bound}/slack/events", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--slack-api", required=True, help="base URL ending in /")
    parser.add_argument("--token", required=True, help="the stand-in's fake bot token")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.secret, args.db, args.slack_api, args.token))


if __name__ == "__main__":
    main()
