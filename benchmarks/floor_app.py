"""The floor: a bare slack-bolt AsyncApp whose `/sfvopi` listener only acks.

Served exactly as the bot serves itself (aiohttp, `to_bolt_request` → `async_dispatch` →
`to_aiohttp_response`; slack-bolt 1.30 ships no aiohttp request handler class), with the same
kind of static `authorize` the bot uses, so no request waits on the network.

    python benchmarks/floor_app.py --port 0 --secret S [--process-before-response]

Prints `ready http://127.0.0.1:PORT/slack/events` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult


def build(secret: str, *, process_before_response: bool) -> web.Application:
    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=None,
            team_id="T0BENCH",
            bot_token="xoxb-bench-not-real",
            bot_id="B0BENCH",
            bot_user_id="U0BENCHBOT",
        )

    app = AsyncApp(
        signing_secret=secret,
        authorize=authorize,
        process_before_response=process_before_response,
    )

    @app.command("/sfvopi")
    async def on_command(ack: AsyncAck) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def serve(port: int, secret: str, process_before_response: bool) -> None:
    runner = web.AppRunner(
        build(secret, process_before_response=process_before_response), access_log=None
    )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.secret, args.process_before_response))


if __name__ == "__main__":
    main()
