"""What every part of the stand-in shares: its address, its tokens, how long Slack waits
for the bot's ack, and each Web API answer recorded as a call."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.sandbox.loopback import LoopbackServer
from bot.sandbox.slack_workspace import JSON, ApiCall, Workspace

ACK_DEADLINE = 3.0


class StandinBase(Workspace, LoopbackServer):
    """The workspace plus the server's address and tokens; each concept builds on it."""

    bot_token: str
    app_token: str | None

    def __init__(self) -> None:
        super().__init__()
        self.ack_timeout = ACK_DEADLINE
        self._http: aiohttp.ClientSession | None = None
        self._port = 0

    def reset(self) -> None:
        self.ack_timeout = ACK_DEADLINE
        super().reset()

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("SlackStandin is not started: await start() first")
        return f"http://{self._host}:{self._port}/"

    @property
    def api_url(self) -> str:
        """The `base_url` for slack-sdk clients; the trailing slash matters to its urljoin."""
        return f"{self.url}api/"

    def _answer(
        self,
        method: str,
        params: JSON,
        body: JSON,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        call = ApiCall(
            method=method,
            params=params,
            status=status,
            ok=bool(body.get("ok")),
            error=body.get("error"),
        )
        self.record_call(call)
        return web.json_response(body, status=status, headers=headers)
