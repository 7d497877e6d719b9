"""`GET /healthz` for both front doors: 200 `{"ok": true}` while the bot can do its work
(with `stuck`: how many requests Slack refuses something for), 503 `{"ok": false,
"error": …}` saying why not (a fixed phrase, never a path or a secret).

Which requests are stuck, and the fix, is for whoever holds the metrics token
(`SFVOPI_METRICS_TOKEN`, sent as a bearer token): a stranger learns no request number and no
channel. Without a token configured, the details are never shown.

HTTP (`bot.slack.http`) asks about the database; Socket Mode (`bot.slack.socket_mode`) also
about its WebSocket, since a replica without one receives nothing.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import SecretStr

from bot.observability.exposition import authorized
from bot.slack.refusals import explain
from bot.store.roles import HealthStore

__all__ = ["Probe", "database_problem", "health", "healthz_response"]

Probe = Callable[[], Awaitable[str | None]]


async def database_problem(store: HealthStore) -> str | None:
    """Why the database cannot serve the bot now, or None.

    A SQLite file removed under a running bot still answers through the connection already
    open (the inode lives on), but nothing written there survives: that is unhealthy too."""
    if not await store.ping():
        return "database unreachable"
    if _file_gone(store.database_file):
        return "database file missing"
    return None


def _file_gone(database: str | None) -> bool:
    """Whether a database that lives in a file no longer has one (a stat, no I/O wait)."""
    return database is not None and not os.path.exists(database)


async def health(
    store: HealthStore, *probes: Probe, detailed: bool = False
) -> tuple[int, dict[str, object]]:
    """The status and JSON body of `/healthz`: the database first, then each extra probe;
    stuck requests as a count, or `detailed` one by one."""
    problems = [problem for problem in [await database_problem(store)] if problem]
    for probe in probes:
        problem = await probe()
        if problem:
            problems.append(problem)
    if problems:
        return 503, {"ok": False, "error": "; ".join(problems)}
    body: dict[str, object] = {"ok": True}
    stuck = await store.slack_problems()
    if stuck:  # healthy replica, but Slack refuses something an admin must fix
        body["stuck"] = (
            [{"request": rid, "problem": explain(p)} for rid, p in stuck]
            if detailed
            else len(stuck)
        )
    return 200, body


async def healthz_response(
    store: HealthStore, token: SecretStr | None, request: web.BaseRequest, *probes: Probe
) -> web.Response:
    """`/healthz`, detailed for whoever holds the metrics `token`."""
    detailed = token is not None and authorized(token, request.headers.get("Authorization"))
    status, body = await health(store, *probes, detailed=detailed)
    return web.json_response(body, status=status)
