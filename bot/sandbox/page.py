"""The sandbox page's server: `GET /` (bot/sandbox/static/sandbox.html) and the small JSON
API it drives the Slack stand-in with (see bot/sandbox/server.py)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from bot.core import ids
from bot.errors import InvalidId
from bot.sandbox.slack_standin import SlackStandin
from bot.sandbox.slack_workspace import CHANNEL_ID, USER_ID


class Sandbox(Protocol):
    """What the page serves from (bot/sandbox/server.py's Sandbox), named here so the page
    does not import its server back."""

    @property
    def slack(self) -> SlackStandin: ...

    async def wait_changed(self, since: int, timeout: float) -> int: ...

    def state(self) -> dict[str, Any]: ...

    async def step_requests(self) -> dict[str, int]: ...

    def link_behind(self, org: str, app_id: str, number: str) -> None: ...


_LONG_POLL_MAX = 30.0


def page_app(sandbox: Sandbox) -> web.Application:
    page = resources.files("bot.sandbox").joinpath("static", "sandbox.html").read_bytes()

    async def index(_request: web.Request) -> web.Response:
        return web.Response(
            body=page,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def state(request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "-1"))
            timeout = min(float(request.query.get("timeout", "25")), _LONG_POLL_MAX)
        except ValueError:
            return _error(400, "since must be an integer and timeout a number")
        if since >= 0:
            await sandbox.wait_changed(since, max(timeout, 0.0))
        shown = sandbox.state() | {"step_requests": await sandbox.step_requests()}
        return web.json_response(shown, headers={"Cache-Control": "no-store"})

    def where(user: str, channel: str) -> str:
        """The channel to post in: a DM named by the page is the sender's own DM with the bot.

        The page has one DM per person (with the bot), and it may not know its id yet: Slack's
        client opens it on first use, so here `dm_channel` does, as `conversations.open` would.
        Posting under any other `D…` id would store messages the page never shows, since it
        finds a person's DM through the stand-in's `dms`.
        """
        return sandbox.slack.dm_channel(user) if channel.startswith("D") else channel

    @_posted("user", "channel", "text")
    async def command(request: web.Request, body: dict[str, str]) -> web.Response:
        user, text = body["user"], body["text"].strip()
        channel = where(user, body["channel"])
        name, _, rest = text.partition(" ")
        if not name.startswith("/"):
            name, rest = "/sfvopi", text
        if name != "/sfvopi":
            note = (
                f"{name} is not a valid command. In Slack, all messages that start with "
                "“/” are interpreted as commands."
            )
            sandbox.slack.add_ephemeral(channel, user, note, source="slack")
            return web.json_response({"ok": False, "status": None, "ephemeral": note})
        result = await sandbox.slack.command(user, rest.strip(), channel=channel)
        return web.json_response(
            {
                "ok": result.ok,
                "status": result.status,
                "elapsed": result.elapsed,
                "ephemeral": result.ephemeral.text if result.ephemeral else None,
            }
        )

    @_posted("user", "channel", "text")
    async def message(request: web.Request, body: dict[str, str]) -> web.Response:
        channel = where(body["user"], body["channel"])
        posted = sandbox.slack.add_message(channel, body["text"], user=body["user"])
        return web.json_response({"ok": True, "channel": channel, "ts": posted.ts})

    @_posted("user", "channel", "ts", "action_id", not_found=True)
    async def click(request: web.Request, body: dict[str, str]) -> web.Response:
        result = await sandbox.slack.click(
            body["user"], body["channel"], body["ts"], body["action_id"]
        )
        return web.json_response(
            {"ok": result.ok, "status": result.status, "elapsed": result.elapsed}
        )

    @_posted("user")
    async def home(request: web.Request, body: dict[str, str]) -> web.Response:
        """The person opens the bot's Home tab: Slack sends the bot `app_home_opened`."""
        result = await sandbox.slack.open_home(body["user"])
        return web.json_response({"ok": result.ok, "status": result.status})

    @_posted("user", "action_id", "value", not_found=True)
    async def home_click(request: web.Request, body: dict[str, str]) -> web.Response:
        result = await sandbox.slack.click_home(
            body["user"], body["action_id"], value=body["value"]
        )
        return web.json_response({"ok": result.ok, "status": result.status})

    @_posted("user", not_found=True)
    async def submit(request: web.Request, body: dict[str, str]) -> web.Response:
        """The person presses the submit button of the modal in front of them."""
        typed = await request.json()
        text = typed.get("text") if isinstance(typed.get("text"), str) else ""
        result = await sandbox.slack.submit_view(body["user"], text[:3000])
        return web.json_response(
            {"ok": result.ok, "closed": result.closed, "errors": result.errors}
        )

    @_posted("user")
    async def close_view(request: web.Request, body: dict[str, str]) -> web.Response:
        sandbox.slack.close_modal_of(body["user"])
        return web.json_response({"ok": True})

    @_posted("user", "step", "targets", "reason")
    async def step(request: web.Request, body: dict[str, str]) -> web.Response:
        """A workflow runs one of the bot's steps with the person as its requester input:
        Slack sends the bot `function_executed`; the page shows how the step is completed."""
        if body["step"] not in ("unlink_numbers", "delete_apps"):
            return _error(400, "step must be unlink_numbers or delete_apps")
        typed = await request.json()
        inputs = {
            "targets": body["targets"][:2000],
            "reason": body["reason"][:2000],
            "requester": body["user"],
        }
        org = typed.get("org")
        if isinstance(org, str) and org.strip():
            inputs["org"] = org.strip()[:200]
        run, delivered = await sandbox.slack.run_step(body["step"], inputs)
        return web.json_response(
            {"ok": delivered.ok, "status": delivered.status, "execution_id": run.execution_id}
        )

    async def link_behind(request: web.Request) -> web.Response:
        """Another SFVoPI user links a number to an app (the emulator's control): what an
        approval was given on changes, and the bot asks again instead of running."""
        body = await _body(request, "org", "app_id", "number")
        if isinstance(body, web.Response):
            return body
        try:
            sandbox.link_behind(
                body["org"], ids.app_id(body["app_id"]), ids.phone_number(body["number"])
            )
        except InvalidId as exc:
            return _error(400, exc.message)
        except KeyError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "unknown org or app")
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/api/link_behind", link_behind)
    app.router.add_post("/api/step", step)
    app.router.add_get("/", index)
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/command", command)
    app.router.add_post("/api/message", message)
    app.router.add_post("/api/click", click)
    app.router.add_post("/api/home", home)
    app.router.add_post("/api/home_click", home_click)
    app.router.add_post("/api/submit", submit)
    app.router.add_post("/api/close_view", close_view)
    return app


Handler = Callable[[web.Request], Awaitable[web.Response]]
PostedHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.Response]]


def _posted(*names: str, not_found: bool = False) -> Callable[[PostedHandler], Handler]:
    """A page action: its JSON body checked by `_body` (a 400 answer when it fails), and with
    `not_found` a LookupError (no such message, button or view) answered 404."""

    def wrap(handler: PostedHandler) -> Handler:
        @functools.wraps(handler)
        async def handle(request: web.Request) -> web.Response:
            body = await _body(request, *names)
            if isinstance(body, web.Response):
                return body
            try:
                return await handler(request, body)
            except LookupError as exc:
                if not not_found:
                    raise
                return _error(404, str(exc))

        return handle

    return wrap


async def _body(request: web.Request, *names: str) -> dict[str, str] | web.Response:
    """The JSON object posted, with each of `names` a non-empty string, or a 400 answer."""
    try:
        data = await request.json()
    except ValueError:
        return _error(400, "expected a JSON object")
    if not isinstance(data, dict):
        return _error(400, "expected a JSON object")
    missing = [n for n in names if not isinstance(data.get(n), str) or not data[n].strip()]
    if missing:
        return _error(400, f"missing or empty: {', '.join(missing)}")
    if "user" in names and not USER_ID.fullmatch(data["user"]):
        return _error(400, "user must be a Slack user id, like U0ALICE")
    if "channel" in names and not CHANNEL_ID.fullmatch(data["channel"]):
        return _error(400, "channel must be a Slack channel id, like C0OPS")
    return {n: str(data[n]) for n in names}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)
