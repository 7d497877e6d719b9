"""The stand-in as one server: its lifecycle, the Web API's routing (a token, a fault, the
pace, the admin's refusals, then the method), `auth.test`, and the state the sandbox page
polls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web

from bot.sandbox.slack_standin.chat import Chat
from bot.sandbox.slack_standin.commands import Commands
from bot.sandbox.slack_standin.functions import Functions
from bot.sandbox.slack_standin.modals import Modals
from bot.sandbox.slack_standin.params import Refused, read_params
from bot.sandbox.slack_standin.refusals import Refusals
from bot.sandbox.slack_standin.usergroups import UserGroups
from bot.sandbox.slack_workspace import BOT_ID, BOT_USER_ID, JSON, TEAM_DOMAIN, TEAM_ID, TEAM_NAME


class SlackStandin(Functions, Commands, Modals, Chat, UserGroups, Refusals):
    """Slack's Web API, response URLs, Socket Mode and client, over an inspectable workspace."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-not-real",  # noqa: S107
        app_token: str | None = None,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self._methods: dict[str, Callable[[JSON], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "apps.connections.open": self._apps_connections_open,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "functions.completeSuccess": self._functions_complete_success,
            "functions.completeError": self._functions_complete_error,
        }

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/_standin/state", self._state)
        self._port = await self._serve(app, host, port)
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"stand-in stopped")
        for future in self._pending.values():
            future.cancel()
        if self._http is not None:
            await self._http.close()
            self._http = None
        await super().stop()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await read_params(request)
        token = str(params.pop("token", "") or "")
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        handler = self._methods.get(method)
        if handler is None:
            return self._answer(method, params, {"ok": False, "error": "unknown_method"})
        faulted = await self._fault(method, params)
        if faulted is not None:
            return faulted
        if self.slow_methods.get(method):
            await asyncio.sleep(self.slow_methods[method])
        paced: tuple[str, float] | None = None
        if method == "chat.postMessage" and self.posts_per_second is not None:
            pace = self._post_pace(method, params)
            if isinstance(pace, web.Response):
                return pace
            paced = pace
        try:
            refusal = self._token_refusal(method, token) or self._workspace_refusal(method, params)
            if refusal:
                raise Refused(refusal)
            body = handler(params)
        except Refused as refused:
            body = {"ok": False, "error": refused.error, **refused.extra}
        self._note_post(body, paced)
        return self._answer(method, params, body)

    def _token_refusal(self, method: str, token: str) -> str | None:
        if not token:
            return "not_authed"
        is_app_token = self.app_token is not None and token == self.app_token
        if method == "apps.connections.open":
            if token == self.bot_token:
                return "not_allowed_token_type"
            return None if is_app_token else "invalid_auth"
        if token == self.bot_token or (is_app_token and method == "auth.test"):
            return None
        if any(token == run.token for run in self.step_runs.values()):
            return None  # an execution's bot token works like the bot's, for the bot
        return "not_allowed_token_type" if is_app_token else "invalid_auth"

    def _auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": self.user_name(BOT_USER_ID),
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    async def _state(self, request: web.Request) -> web.StreamResponse:
        """The workspace as JSON; with `since`, a long poll until the version passes it."""
        try:
            since = int(request.query.get("since", "-1"))
            timeout = min(float(request.query.get("timeout", "25")), 60.0)
        except ValueError:
            return web.json_response({"error": "bad since or timeout"}, status=400)
        if since >= 0:
            await self.wait_changed(since, timeout)
        return web.json_response(self.snapshot())
