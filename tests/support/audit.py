"""For the audit tests: a history made as people make it, raw SQL as a tamperer writes it, the
`sfvopi-bot audit` command run as an operator runs it, and a webhook receiver on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit.sink import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_matches
from bot.sandbox.slack_standin import SlackStandin
from bot.store.engine import make_engine
from tests.support.bot import RunningBot
from tests.support.slack_user import UNLINK, ask, card, click, request_id_in

__all__ = [
    "FORMULA_NOTE",
    "Cli",
    "Receiver",
    "make_history",
    "raw_sql",
    "run_cli",
]

# a deny note a spreadsheet would run, were it not made inert
FORMULA_NOTE = '=HYPERLINK("https://evil.example","click")'


async def make_history(slack: SlackStandin, bot: RunningBot) -> tuple[int, int, int]:
    """Three requests: one approved and run (API result, thread, DM, outcome line), one denied
    with a note shaped like a spreadsheet formula, one by the other organization (globex)."""
    ran = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", ran, "approve")
    denied = request_id_in(
        await ask(slack, bot, "U0ALICE", "delete sfv_app_def789ghi012 retire it, CHG-1")
    )
    card(slack, denied)
    await bot.services.workflow.deny(denied, approver="U0CAROL", note=FORMULA_NOTE)
    other = request_id_in(
        await ask(slack, bot, "U0GINA", "unlink +918000000002 sfv_app_abc123xyz456 globex cleanup")
    )
    await bot.settle()
    return ran, denied, other


@asynccontextmanager
async def raw_sql(url: str) -> AsyncIterator[AsyncConnection]:
    """A transaction straight on the database, past the store: what a DBA could do."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


@dataclass
class Cli:
    code: int
    out: str
    err: str


async def run_cli(args: list[str], env: Mapping[str, str], cwd: Path) -> Cli:
    """`python -m bot ARGS` with exactly these settings (nothing from a stray .env)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SFVOPI_", "SLACK_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**clean, **env},
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Cli(proc.returncode, out.decode(), err.decode())


@dataclass
class Receiver:
    """A webhook receiver on loopback that checks each delivery's signature, as docs/audit.md
    tells receivers to, and can be told to fail (`status`), hang, or be down."""

    secret: bytes
    status: int = 200
    hang: float = 0.0
    received: list[dict[str, object]] = field(default_factory=list)
    deliveries: int = 0
    refused: int = 0
    bad_signatures: int = 0
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/audit"

    @property
    def event_ids(self) -> set[str]:
        return {str(r["event_id"]) for r in self.received}

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/audit", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature_matches(self.secret, timestamp, body, signature):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.hang:
            await asyncio.sleep(self.hang)
        if self.status != 200:
            self.refused += 1
            return web.Response(status=self.status)
        self.deliveries += 1
        self.received += [json.loads(line) for line in body.decode().splitlines()]
        return web.Response(status=204)
