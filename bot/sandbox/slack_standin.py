"""A local Slack for tests, the sandbox and benchmarks: a real aiohttp server on loopback.

It plays both sides of Slack: the Web API, `response_url` and Socket Mode endpoints the bot
calls, and the Slack client that sends the bot signed slash commands and button clicks.
Point slack-sdk at it with `AsyncWebClient(token=..., base_url=standin.api_url)`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack_workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    USER_ID,
    Ack,
    ApiCall,
    ClickResult,
    CommandResult,
    Delivery,
    DeliveryKind,
    Ephemeral,
    EventResult,
    Message,
    RateLimited,
    SlackApiRefusal,
    SlackFault,
    SlackServerError,
    Slow,
    SubmitResult,
    Timeout,
    View,
    Workspace,
    block_errors,
    buttons,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "Ack",
    "ApiCall",
    "ClickResult",
    "CommandResult",
    "Delivery",
    "Ephemeral",
    "EventResult",
    "Message",
    "RateLimited",
    "SlackApiRefusal",
    "SlackFault",
    "SlackServerError",
    "SlackStandin",
    "Slow",
    "StepRun",
    "SubmitResult",
    "Timeout",
    "View",
]

ACK_DEADLINE = 3.0
RESPONSE_URL_POSTS = 5
RESPONSE_URL_TTL = 30 * 60.0
VERIFICATION_TOKEN = "verification-token-not-real"  # noqa: S105
MAX_TEXT = 40_000
TRIGGER_TTL = 3.0  # Slack honours a trigger_id this long, once
MAX_VIEW_BLOCKS = 100


class _Refused(Exception):
    """A Web API error answer, raised from inside a method handler."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass(kw_only=True)
class _ResponseTarget:
    """What a response_url posts into; `ts` is the "original" that replace/delete act on."""

    kind: Literal["command", "message", "ephemeral"]
    user: str
    channel: str
    ts: str | None
    created: float = field(default_factory=time.time)
    posts: int = 0


@dataclass(kw_only=True)
class StepRun:
    """One run of a workflow step (a custom function) and how the app completed it: Slack
    takes one completion per execution and refuses any later one."""

    execution_id: str
    callback_id: str
    inputs: JSON
    token: str = field(repr=False)  # the execution's own bot token; never shown on the page
    started: float = field(default_factory=time.time)
    state: Literal["running", "completed", "failed"] = "running"
    outputs: JSON | None = None
    error: str | None = None
    completions: int = 0  # completion calls Slack took (at most one)
    refused: int = 0  # completion calls refused because it had already ended

    def to_dict(self) -> JSON:
        return {
            "execution_id": self.execution_id,
            "callback_id": self.callback_id,
            "inputs": self.inputs,
            "started": self.started,
            "state": self.state,
            "outputs": self.outputs,
            "error": self.error,
            "completions": self.completions,
            "refused": self.refused,
        }


STEP_TITLES = {"unlink_numbers": "Unlink numbers", "delete_apps": "Delete apps"}


class SlackStandin(Workspace):
    """Slack's Web API, response URLs, Socket Mode and client, over an inspectable workspace."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-not-real",  # noqa: S107
        app_token: str | None = None,
    ) -> None:
        super().__init__()
        self._faults: dict[str, collections.deque[SlackFault]] = {}
        self._targets: dict[str, _ResponseTarget] = {}
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_mode = False
        self.ack_timeout = ACK_DEADLINE
        self.response_url_gone = False
        self.response_url_ttl = RESPONSE_URL_TTL
        self.channel_refusals: dict[str, str] = {}
        self.missing_scopes: set[str] = set()
        self.token_refusal: str | None = None
        self._bot_url: str | None = None
        self._signing_secret: str | None = None
        self._tickets: set[str] = set()
        self._triggers: dict[str, tuple[str, float]] = {}
        self.trigger_ttl = TRIGGER_TTL
        self._sockets: list[web.WebSocketResponse] = []
        self._pending: dict[str, asyncio.Future[JSON]] = {}
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._host = "127.0.0.1"
        self._port = 0
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
        self.step_runs: dict[str, StepRun] = {}  # function_execution_id → its run
        self.usergroups: dict[str, list[str]] = {}  # user group id → its members' ids
        self.slow_methods: dict[str, float] = {}  # method → seconds before it answers
        self.posts_per_second: float | None = None  # Slack's per-channel pace, when enforced
        self._accepted_posts: dict[str, float] = {}  # channel → when a post was last taken
        self._rate_limited: collections.Counter[str] = collections.Counter()  # channel → 429s

    # lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/_standin/state", self._state)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"stand-in stopped")
        for future in self._pending.values():
            future.cancel()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandin:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("SlackStandin is not started: await start() first")
        return f"http://{self._host}:{self._port}/"

    @property
    def api_url(self) -> str:
        """The `base_url` for slack-sdk clients; the trailing slash matters to its urljoin."""
        return f"{self.url}api/"

    @property
    def connections(self) -> int:
        return len(self._sockets)

    def reset(self) -> None:
        """Forget the workspace, calls, faults and response URLs; keep tokens and configuration."""
        self._faults.clear()
        self._targets.clear()
        self.channel_refusals.clear()
        self.missing_scopes.clear()
        self.token_refusal = None
        self.response_url_gone = False
        self.ack_timeout = ACK_DEADLINE
        self.response_url_ttl = RESPONSE_URL_TTL
        self._triggers.clear()
        self.trigger_ttl = TRIGGER_TTL
        self.usergroups.clear()
        self.slow_methods.clear()
        self.step_runs.clear()
        self.unlimit_posts()
        self._rate_limited.clear()
        super().reset()

    def fail(self, method: str, *faults: SlackFault) -> None:
        """Queue faults for a Web API method (or "response_url"), one consumed per call."""
        self._faults.setdefault(method, collections.deque()).extend(faults)

    def limit_posts(self, per_second: float = 1.0) -> None:
        """Until `unlimit_posts`: as Slack does, a `chat.postMessage` to a channel sooner than
        1/`per_second` after the last post it took there is answered 429 with Retry-After
        (whole seconds, at least 1) and `ratelimited`, and nothing is posted."""
        if not per_second > 0:
            raise ValueError("per_second must be positive")
        self.posts_per_second = per_second

    def unlimit_posts(self) -> None:
        self.posts_per_second = None
        self._accepted_posts.clear()

    def rate_limited(self, channel: str | None = None) -> int:
        """How many 429s `chat.postMessage` got for `channel` (every channel: None), from the
        limit or from queued `RateLimited` faults."""
        if channel is None:
            return sum(self._rate_limited.values())
        return self._rate_limited[self._dm_channels.get(channel, channel)]

    def _post_pace(self, method: str, params: JSON) -> tuple[str, float] | web.Response:
        """A post too soon after the channel's last one: its 429. Else the channel and now,
        to note if the post is taken."""
        channel = _str(params.get("channel"))
        channel = self._dm_channels.get(channel, channel)
        now = time.monotonic()
        last = self._accepted_posts.get(channel)
        if self.posts_per_second is not None and last is not None:
            wait = last + 1 / self.posts_per_second - now
            if wait > 0:
                self._rate_limited[channel] += 1
                body = {"ok": False, "error": "ratelimited"}
                retry_after = {"Retry-After": str(max(1, math.ceil(wait)))}
                return self._answer(method, params, body, 429, retry_after)
        return channel, now

    # Web API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _read_params(request)
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
                raise _Refused(refusal)
            body = handler(params)
        except _Refused as refused:
            body = {"ok": False, "error": refused.error, **refused.extra}
        if paced is not None and body.get("ok"):  # keyed as posted: a user id means their DM
            self._accepted_posts[_str(body.get("channel")) or paced[0]] = paced[1]
        return self._answer(method, params, body)

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

    async def _fault(self, method: str, params: JSON) -> web.Response | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue.popleft()
        headers: dict[str, str] = {}
        if isinstance(fault, Slow):
            await asyncio.sleep(fault.seconds)
            return None
        if isinstance(fault, RateLimited):
            status, error = 429, "ratelimited"
            headers["Retry-After"] = str(fault.retry_after)
            if method == "chat.postMessage":
                channel = _str(params.get("channel"))
                self._rate_limited[self._dm_channels.get(channel, channel)] += 1
        elif isinstance(fault, SlackServerError):
            status, error = fault.status, "internal_error"
        elif isinstance(fault, Timeout):
            await asyncio.sleep(fault.seconds)
            status, error = 503, "service_unavailable"
        else:
            status, error = 200, fault.error
        return self._answer(method, params, {"ok": False, "error": error}, status, headers)

    # -- the workspace as an admin left it: Slack's standing refusals ---------------------

    def refuse_channel(self, channel: str, error: str) -> None:
        """Until `allow_channel`: posts and updates in `channel` are refused with `error`, as
        Slack does when the bot is not in it (`not_in_channel`), it is archived (`is_archived`)
        or gone (`channel_not_found`)."""
        self.channel_refusals[channel] = error

    def allow_channel(self, channel: str) -> None:
        self.channel_refusals.pop(channel, None)

    def revoke_token(self, error: str = "token_revoked") -> None:
        """Every call with the bot token is refused (`token_revoked`, `invalid_auth`,
        `account_inactive`) until `restore_token`."""
        self.token_refusal = error

    def restore_token(self) -> None:
        self.token_refusal = None

    def drop_scope(self, method: str) -> None:
        """`method` answers `missing_scope` until `grant_scope`, as after a scope was removed."""
        self.missing_scopes.add(method)

    def grant_scope(self, method: str) -> None:
        self.missing_scopes.discard(method)

    def set_usergroup(self, group: str, users: list[str]) -> None:
        """A user group (`S…`) with these members, as `usergroups.users.list` answers; setting
        it again changes its members, as an admin editing the group does."""
        self.usergroups[group] = list(users)

    def delete_usergroup(self, group: str) -> None:
        """Gone: listing it is refused with `no_such_subteam`."""
        self.usergroups.pop(group, None)

    def slow_down(self, method: str, seconds: float) -> None:
        """`method` answers only after `seconds` (0: at once again), as a slow Slack does."""
        self.slow_methods[method] = seconds

    def _workspace_refusal(self, method: str, params: JSON) -> str | None:
        if self.token_refusal is not None and method != "apps.connections.open":
            return self.token_refusal
        if method in self.missing_scopes:
            return "missing_scope"
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return self.channel_refusals.get(_str(params.get("channel")))
        return None

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

    def _chat_post_message(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=True)
        text, blocks = _content(params)
        if not text and not blocks:
            raise _Refused("no_text")
        thread_ts = _str(params.get("thread_ts")) or None
        message = self.add_message(channel, text, blocks=blocks, thread_ts=thread_ts)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.to_dict()}

    def _chat_update(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=False)
        message = self._own_message(channel, _str(params.get("ts")), "cant_update_message")
        text, blocks = _content(params)
        new_text = text if params.get("text") is not None else None
        new_blocks = blocks if params.get("blocks") is not None else None
        if not (new_text or message.text) and not (new_blocks or message.blocks):
            raise _Refused("no_text")
        self.update_message(channel, message.ts, text=new_text, blocks=new_blocks)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_dict(),
        }

    def _chat_delete(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=False)
        message = self._own_message(channel, _str(params.get("ts")), "cant_delete_message")
        self.delete_message(channel, message.ts)
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _chat_get_permalink(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=False)
        ts = _str(params.get("message_ts"))
        if self.message(channel, ts) is None:
            raise _Refused("message_not_found")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"{self.url}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        channel = self._channel(params, dm=True)
        user = _str(params.get("user"))
        if not USER_ID.fullmatch(user):
            raise _Refused("user_not_found")
        text, blocks = _content(params)
        if not text and not blocks:
            raise _Refused("no_text")
        ephemeral = self.add_ephemeral(channel, user, text, blocks)
        return {"ok": True, "message_ts": ephemeral.ts}

    def _usergroups_users_list(self, params: JSON) -> JSON:
        group = _str(params.get("usergroup"))
        if group not in self.usergroups:
            raise _Refused("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def _conversations_open(self, params: JSON) -> JSON:
        users = params.get("users")
        listed = users if isinstance(users, list) else _str(users).split(",")
        ids = [str(u).strip() for u in listed if str(u).strip()]
        if not ids:
            raise _Refused("users_list_not_supplied")
        if not all(USER_ID.fullmatch(u) for u in ids):
            raise _Refused("user_not_found")
        if len(ids) == 1:
            existed = ids[0] in self._dm_channels
            channel = self.dm_channel(ids[0])
        else:
            channel = "G" + uuid.uuid5(uuid.NAMESPACE_OID, ",".join(sorted(ids))).hex[:10].upper()
            existed = channel in self._channels
            self._channels.setdefault(channel, [])
        return {"ok": True, "no_op": existed, "already_open": existed, "channel": {"id": channel}}

    def _apps_connections_open(self, params: JSON) -> JSON:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        url = f"ws://{self._host}:{self._port}/socket?ticket={ticket}&app_id={APP_ID}"
        return {"ok": True, "url": url}

    # views: modals and the App Home

    def _issue_trigger(self, user: str) -> str:
        """A trigger_id for something `user` just did; views.open takes it once, within
        `trigger_ttl` seconds."""
        trigger = _trigger_id()
        self._triggers[trigger] = (user, time.time())
        return trigger

    def _views_open(self, params: JSON) -> JSON:
        issued = self._triggers.get(_str(params.get("trigger_id")))
        if issued is None:
            raise _Refused("invalid_trigger_id")
        user, at = issued
        if at < 0:
            raise _Refused("exchanged_trigger_id")
        if time.time() - at > self.trigger_ttl:
            raise _Refused("expired_trigger_id")
        view = _view(params, "modal")
        self._triggers[_str(params.get("trigger_id"))] = (user, -1.0)
        opened = self.open_modal(user, view)
        return {"ok": True, "view": opened.to_dict()}

    def _views_update(self, params: JSON) -> JSON:
        found = self.modals.get(_str(params.get("view_id")))
        if found is None:
            raise _Refused("not_found")
        if params.get("hash") and params.get("hash") != found.hash:
            raise _Refused("hash_conflict")
        self.update_view(found, _view(params, "modal"))
        return {"ok": True, "view": found.to_dict()}

    def _views_publish(self, params: JSON) -> JSON:
        user = _str(params.get("user_id"))
        if not USER_ID.fullmatch(user):
            raise _Refused("invalid_arguments")
        home = self.homes.get(user)
        if home is not None and params.get("hash") and params.get("hash") != home.hash:
            raise _Refused("hash_conflict")
        published = self.publish_home(user, _view(params, "home"))
        return {"ok": True, "view": published.to_dict()}

    def _channel(self, params: JSON, *, dm: bool) -> str:
        """The channel a method names; only posting methods accept a user id for their DM."""
        value = _str(params.get("channel"))
        channel = self.resolve_channel(value) if dm else value
        if not channel or not CHANNEL_ID.fullmatch(channel):
            raise _Refused("channel_not_found")
        return channel

    def _own_message(self, channel: str, ts: str, not_ours: str) -> Message:
        message = self.message(channel, ts)
        if message is None:
            raise _Refused("message_not_found")
        if message.user != BOT_USER_ID:
            raise _Refused(not_ours)
        return message

    # response_url

    def _issue_response_url(
        self,
        kind: Literal["command", "message", "ephemeral"],
        user: str,
        channel: str,
        ts: str | None,
    ) -> tuple[str, _ResponseTarget]:
        token = uuid.uuid4().hex
        target = _ResponseTarget(kind=kind, user=user, channel=channel, ts=ts)
        self._targets[token] = target
        return f"{self.url}response/{token}", target

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        params: JSON = dict(body) if isinstance(body, dict) else {}
        faulted = await self._fault("response_url", params)
        if faulted is not None:
            return faulted
        status, answer = self._respond(self._targets.get(request.match_info["token"]), body)
        error = None if status == 200 else answer
        self.record_call(
            ApiCall(method="response_url", params=params, status=status, ok=not error, error=error)
        )
        return web.Response(status=status, text=answer)

    def _respond(self, target: _ResponseTarget | None, body: Any) -> tuple[int, str]:
        """Apply one response_url post as Slack does; returns the status and text it answers."""
        if (
            target is None
            or self.response_url_gone
            or time.time() - target.created > self.response_url_ttl
        ):
            return 404, "expired_url"
        if target.posts >= RESPONSE_URL_POSTS:
            return 404, "used_url"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        try:
            text, blocks = _content(body)
        except _Refused as refused:
            return 400, refused.error
        if _flag(body.get("delete_original")):
            target.posts += 1
            self._delete_original(target)
            return 200, "ok"
        if not text and not blocks:
            return 400, "no_text"
        if _flag(body.get("replace_original")) and target.ts:
            if target.kind == "message":
                if not self.update_message(
                    target.channel, target.ts, text=text, blocks=blocks or []
                ):
                    return 404, "message_not_found"
                target.posts += 1
                return 200, "ok"
            original = self.ephemeral(target.channel, target.ts)
            if original is not None:
                target.posts += 1
                self.replace_ephemeral(original, text=text, blocks=blocks)
                return 200, "ok"
        target.posts += 1
        if body.get("response_type") == "in_channel":
            thread_ts = _str(body.get("thread_ts")) or None
            self.add_message(target.channel, text, blocks=blocks, thread_ts=thread_ts)
        else:
            ephemeral = self.add_ephemeral(
                target.channel, target.user, text, blocks, source="response_url"
            )
            if target.kind == "command":
                target.ts = ephemeral.ts
        return 200, "ok"

    def _delete_original(self, target: _ResponseTarget) -> None:
        if target.ts is None:
            return
        if target.kind == "message":
            self.delete_message(target.channel, target.ts)
        elif (original := self.ephemeral(target.channel, target.ts)) is not None:
            self.delete_ephemeral(original)

    # Socket Mode

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="invalid_ticket")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": "slack-standin",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._sockets.append(socket)
        self._touch()
        try:
            async for frame in socket:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    self._socket_ack(frame.data)
        finally:
            self._sockets.remove(socket)
            self._touch()
        return socket

    def _socket_ack(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            return
        if isinstance(ack, dict):
            future = self._pending.get(str(ack.get("envelope_id")))
            if future is not None and not future.done():
                future.set_result(ack)

    async def disconnect_sockets(self, reason: str = "refresh_requested") -> None:
        """Tell connected clients to reconnect, as Slack does every few hours."""
        for socket in list(self._sockets):
            disconnect = {"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}}
            await socket.send_json(disconnect)
            await socket.close()

    async def _envelope(
        self,
        kind: str,
        payload: JSON,
        *,
        accepts_response_payload: bool,
        extra: JSON | None = None,
    ) -> Ack:
        try:
            socket = await self.wait_for(
                lambda: self._sockets[-1] if self._sockets else None, timeout=self.ack_timeout
            )
        except TimeoutError:
            raise RuntimeError("Socket Mode is on but no client is connected") from None
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = future
        started = time.perf_counter()
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
            "payload": payload,
            **(extra or {}),
        }
        try:
            await socket.send_json(envelope)
            reply = await asyncio.wait_for(future, self.ack_timeout)
        except TimeoutError:
            elapsed = time.perf_counter() - started
            return Ack(status=None, body=None, elapsed=elapsed, timed_out=True, transport="socket")
        finally:
            self._pending.pop(envelope_id, None)
        body = reply.get("payload")
        return Ack(
            status=200,
            body=body if isinstance(body, dict | str) else None,
            elapsed=time.perf_counter() - started,
            transport="socket",
        )

    # the Slack client side

    def configure(self, bot_url: str, signing_secret: str) -> None:
        """Where commands and clicks go over HTTP, and the secret Slack signs them with."""
        self._bot_url = bot_url
        self._signing_secret = signing_secret

    def configure_socket(self, app_token: str | None) -> None:
        """Deliver commands and clicks over Socket Mode; None goes back to HTTP."""
        if app_token is not None:
            self.app_token = app_token
        self.socket_mode = app_token is not None

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Slack's signature headers for a raw body (sign the form bytes, not a JSON dump)."""
        if self._signing_secret is None:
            raise RuntimeError("call configure(bot_url, signing_secret) first")
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        verifier = SignatureVerifier(self._signing_secret)
        signature = verifier.generate_signature(timestamp=stamp, body=body)
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": str(signature)}

    async def raw_post(self, body: bytes, headers: dict[str, str]) -> Ack:
        """POST exactly these bytes and headers to the bot (form content type unless given)."""
        ack = await self._post(body, headers)
        self.record_delivery(
            Delivery(
                kind="raw",
                transport="http",
                user=None,
                channel=None,
                summary=f"{len(body)} bytes",
                status=ack.status,
                elapsed=ack.elapsed,
                timed_out=ack.timed_out,
            )
        )
        return ack

    async def _post(self, body: bytes, headers: dict[str, str]) -> Ack:
        if self._bot_url is None:
            raise RuntimeError("call configure(bot_url, signing_secret) first")
        if self._http is None:
            raise RuntimeError("SlackStandin is not started: await start() first")
        sent = CIMultiDict(headers)
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        started = time.perf_counter()
        try:
            async with self._http.post(
                self._bot_url,
                data=body,
                headers=sent,
                timeout=aiohttp.ClientTimeout(total=self.ack_timeout),
            ) as response:
                status, content_type = response.status, response.content_type
                text = await response.text()
        except TimeoutError:
            return Ack(
                status=None, body=None, elapsed=time.perf_counter() - started, timed_out=True
            )
        return Ack(
            status=status,
            body=_parse_ack(text, content_type),
            elapsed=time.perf_counter() - started,
        )

    async def command(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0OPS",
        command: str = "/sfvopi",
        team: str = TEAM_ID,
    ) -> CommandResult:
        """Run a slash command as `user` would; an ack with text shows as an ephemeral reply."""
        response_url, target = self._issue_response_url("command", user, channel, None)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": team,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.channel_name(channel),
            "user_id": user,
            "user_name": self.user_name(user),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._issue_trigger(user),
        }
        if self.socket_mode:
            ack = await self._envelope(
                "slash_commands", dict(fields), accepts_response_payload=True
            )
        else:
            ack = await self._signed_post(urlencode(fields).encode())
        ephemeral = self._show_command_ack(ack, target, command)
        self._record("slash_commands", ack, user, channel, f"{command} {text}")
        return CommandResult(
            **vars(ack), fields=fields, response_url=response_url, ephemeral=ephemeral
        )

    def _show_command_ack(
        self, ack: Ack, target: _ResponseTarget, command: str
    ) -> Ephemeral | None:
        """What the user sees right after the command: the ack body, or Slack's own error."""
        if not ack.ok:
            reason = "operation_timeout" if ack.timed_out else "dispatch_failed"
            error = f'{command} failed with the error "{reason}"'
            self.add_ephemeral(target.channel, target.user, error, source="slack")
            return None
        body = {"text": ack.body} if isinstance(ack.body, str) else ack.json
        text = _str(body.get("text"))
        raw_blocks = body.get("blocks")
        blocks: list[JSON] | None = raw_blocks if isinstance(raw_blocks, list) else None
        if not text and not blocks:
            return None
        if body.get("response_type") == "in_channel":
            self.add_message(target.channel, text, blocks=blocks)
            return None
        ephemeral = self.add_ephemeral(target.channel, target.user, text, blocks, source="ack")
        target.ts = ephemeral.ts
        return ephemeral

    async def click(
        self,
        user: str,
        channel: str,
        ts: str,
        action_id: str,
        *,
        value: str | None = None,
    ) -> ClickResult:
        """Click a button of a stored message (or of an ephemeral `user` sees) as Slack sends it."""
        message = self.message(channel, ts)
        ephemeral = self.ephemeral(channel, ts)
        if message is not None:
            blocks = message.blocks
        elif ephemeral is not None and ephemeral.user == user:
            blocks = ephemeral.blocks
        else:
            raise LookupError(f"no message {ts} in {channel} that {user} can see")
        found = next(((b, e) for b, e in buttons(blocks) if e.get("action_id") == action_id), None)
        if found is None:
            present = [e.get("action_id") for _, e in buttons(blocks)]
            raise LookupError(f"no button {action_id!r} on {channel}/{ts}; it has {present}")
        block_id, element = found
        kind: Literal["message", "ephemeral"] = "message" if message else "ephemeral"
        response_url, _ = self._issue_response_url(kind, user, channel, ts)
        action: JSON = {
            "action_id": action_id,
            "block_id": block_id,
            "text": element.get("text"),
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
        chosen = value if value is not None else element.get("value")
        if chosen is not None:
            action["value"] = chosen
        if "style" in element:
            action["style"] = element["style"]
        container: JSON = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": message is None,
        }
        if message is not None and message.thread_ts:
            container["thread_ts"] = message.thread_ts
        name = self.user_name(user)
        payload: JSON = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": self._issue_trigger(user),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channel_name(channel)},
        }
        if message is not None:
            payload["message"] = message.to_dict()
        payload |= {"state": {"values": {}}, "response_url": response_url, "actions": [action]}
        if self.socket_mode:
            ack = await self._envelope("interactive", payload, accepts_response_payload=False)
        else:
            ack = await self._signed_post(urlencode({"payload": json.dumps(payload)}).encode())
        self._record("block_actions", ack, user, channel, f"{action_id} on {ts}")
        return ClickResult(**vars(ack), payload=payload, response_url=response_url)

    async def _signed_post(self, body: bytes) -> Ack:
        return await self._post(body, self.sign(body))

    def _record(
        self,
        kind: DeliveryKind,
        ack: Ack,
        user: str | None,
        channel: str | None,
        summary: str,
    ) -> None:
        delivery = Delivery(
            kind=kind,
            transport=ack.transport,
            user=user,
            channel=channel,
            summary=summary,
            status=ack.status,
            elapsed=ack.elapsed,
            timed_out=ack.timed_out,
        )
        self.record_delivery(delivery)

    # the Slack client side: modals, the App Home, events

    async def submit_view(self, user: str, text: str = "") -> SubmitResult:
        """Types `text` into the modal open in front of `user` and presses its submit button,
        as Slack posts it: a signed `view_submission` (over the socket in Socket Mode). The
        bot's answer keeps it open with errors, or closes it."""
        view = self.modal_of(user)
        if view is None:
            raise LookupError(f"no modal is open in front of {user}")
        values: JSON = {}
        typed = False
        for block in view.view.get("blocks") or []:
            element = block.get("element") if block.get("type") == "input" else None
            if isinstance(element, dict):
                value = None if typed or not text else text
                typed = True
                values[str(block.get("block_id"))] = {
                    str(element.get("action_id")): {"type": element.get("type"), "value": value}
                }
        shown = view.to_dict() | {"state": {"values": values}}
        return await self.submit_payload(user, shown, view)

    async def submit_payload(
        self, user: str, shown: JSON, view: View | None = None
    ) -> SubmitResult:
        """Posts a `view_submission` carrying `shown` as the view (a test may forge it)."""
        name = self.user_name(user)
        payload: JSON = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": {"id": user, "username": name, "name": name, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._issue_trigger(user),
            "view": shown,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        if self.socket_mode:
            ack = await self._envelope("interactive", payload, accepts_response_payload=True)
        else:
            ack = await self._signed_post(urlencode({"payload": json.dumps(payload)}).encode())
        errors: dict[str, str] = {}
        answer = ack.json
        closed = False
        if ack.ok and answer.get("response_action") == "errors":
            found = answer.get("errors")
            errors = {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
        elif ack.ok and view is not None:
            closed = True
            self.close_modal(view)
        if view is not None and errors:
            self.update_view(view, view.view, errors=errors)
        self._record("view_submission", ack, user, None, str(shown.get("callback_id")))
        return SubmitResult(**vars(ack), payload=payload, errors=errors, closed=closed)

    def close_modal_of(self, user: str) -> None:
        """The person presses the modal's close button (Back)."""
        view = self.modal_of(user)
        if view is not None:
            self.close_modal(view)

    async def open_home(self, user: str) -> EventResult:
        """`user` opens the bot's Home tab: Slack sends `app_home_opened` as an event."""
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.dm_channel(user),
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        if user in self.homes:
            event["view"] = self.homes[user].to_dict()
        return await self.send_event(event)

    async def send_event(self, event: JSON, *, event_id: str | None = None) -> EventResult:
        """An Events API delivery (`event_callback`) of `event`, with a fresh `event_id`."""
        body: JSON = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + uuid.uuid4().hex,
        }
        return await self.redeliver(body, retry=0)

    async def redeliver(self, body: JSON, *, retry: int) -> EventResult:
        """Delivers an event body; `retry` > 0 plays Slack's retry of it (`X-Slack-Retry-Num`
        over HTTP, `retry_attempt` over the socket), same `event_id`."""
        if self.socket_mode:
            extra = {"retry_attempt": retry, "retry_reason": "timeout" if retry else ""}
            ack = await self._envelope(
                "events_api", body, accepts_response_payload=False, extra=extra
            )
        else:
            raw = json.dumps(body).encode()
            headers = self.sign(raw) | {"Content-Type": "application/json"}
            if retry:
                headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            ack = await self._post(raw, headers)
        event = body.get("event")
        user = _str(event.get("user")) if isinstance(event, dict) else None
        self._record("event_callback", ack, user, None, f"{body.get('event_id')} retry {retry}")
        return EventResult(**(vars(ack) | {"body": ack.body}), event=body)

    async def verify_url(self, challenge: str, *, signed: bool = True) -> Ack:
        """Slack checking the request URL when an admin saves it: a `url_verification` post."""
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers |= self.sign(raw)
        ack = await self._post(raw, headers)
        self._record("url_verification", ack, None, None, challenge[:40])
        return ack

    async def click_home(
        self, user: str, action_id: str, *, value: str | None = None
    ) -> ClickResult:
        """Clicks a button on `user`'s Home tab (the first with `action_id`, and `value` if
        given), as Slack sends it: a `block_actions` from a view, with no channel."""
        home = self.homes.get(user)
        if home is None:
            raise LookupError(f"{user} has no Home tab published")
        found = next(
            (
                (b, e)
                for b, e in buttons(home.view.get("blocks") or [])
                if e.get("action_id") == action_id and (value is None or e.get("value") == value)
            ),
            None,
        )
        if found is None:
            raise LookupError(f"no button {action_id!r} ({value}) on the Home of {user}")
        block_id, element = found
        action: JSON = {
            "action_id": action_id,
            "block_id": block_id,
            "text": element.get("text"),
            "type": "button",
            "action_ts": f"{time.time():.6f}",
            "value": element.get("value"),
        }
        name = self.user_name(user)
        payload: JSON = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": home.id},
            "trigger_id": self._issue_trigger(user),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": home.to_dict(),
            "actions": [action],
        }
        if self.socket_mode:
            ack = await self._envelope("interactive", payload, accepts_response_payload=False)
        else:
            ack = await self._signed_post(urlencode({"payload": json.dumps(payload)}).encode())
        self._record("block_actions", ack, user, None, f"{action_id} on the Home tab")
        return ClickResult(**vars(ack), payload=payload, response_url="")

    # workflow steps (custom functions)

    async def run_step(
        self, callback_id: str, inputs: JSON, *, execution_id: str | None = None
    ) -> tuple[StepRun, EventResult]:
        """A workflow reaches the app's step: Slack sends `function_executed` (signed, as any
        event) with a fresh execution id and a bot token for this execution alone; naming an
        `execution_id` already run delivers that execution again."""
        run, event = self.step_event(callback_id, inputs, execution_id=execution_id)
        return run, await self.send_event(event)

    def step_event(
        self, callback_id: str, inputs: JSON, *, execution_id: str | None = None
    ) -> tuple[StepRun, JSON]:
        """The run and the `function_executed` event `run_step` sends, for a test to bend
        (an input of the wrong shape) before sending it."""
        execution_id = execution_id or "Fx" + uuid.uuid4().hex[:10].upper()
        run = self.step_runs.get(execution_id)  # the same execution again: same run, same token
        if run is None:
            run = StepRun(
                execution_id=execution_id,
                callback_id=callback_id,
                inputs=dict(inputs),
                token="xwfp-" + uuid.uuid4().hex + "-not-real",
            )
            self.step_runs[execution_id] = run
            self._touch()
        event: JSON = {
            "type": "function_executed",
            "function": {
                "id": "Fn" + uuid.uuid5(uuid.NAMESPACE_URL, callback_id).hex[:10].upper(),
                "callback_id": callback_id,
                "title": STEP_TITLES.get(callback_id, callback_id),
                "type": "app",
                "app_id": APP_ID,
            },
            "inputs": dict(inputs),
            "function_execution_id": execution_id,
            "workflow_execution_id": "Wx" + uuid.uuid4().hex[:10].upper(),
            "event_ts": f"{time.time():.6f}",
            "bot_access_token": run.token,
        }
        return run, event

    def _step_run(self, params: JSON) -> StepRun:
        run = self.step_runs.get(_str(params.get("function_execution_id")))
        if run is None:
            raise _Refused("function_execution_not_found")
        if run.state != "running":
            run.refused += 1
            self._touch()
            raise _Refused("execution_not_in_running_state")
        return run

    def _functions_complete_success(self, params: JSON) -> JSON:
        run = self._step_run(params)
        outputs = params.get("outputs")
        if isinstance(outputs, str):
            try:
                outputs = json.loads(outputs)
            except ValueError:
                outputs = None
        if not isinstance(outputs, dict):
            raise _Refused("invalid_arguments")
        run.state, run.outputs, run.completions = "completed", outputs, run.completions + 1
        self._touch()
        return {"ok": True}

    def _functions_complete_error(self, params: JSON) -> JSON:
        run = self._step_run(params)
        error = params.get("error")
        if not isinstance(error, str) or not error:
            raise _Refused("invalid_arguments")
        run.state, run.error, run.completions = "failed", error, run.completions + 1
        self._touch()
        return {"ok": True}

    def snapshot(self, calls: int = 200) -> JSON:
        return super().snapshot(calls) | {
            "step_runs": [r.to_dict() for r in self.step_runs.values()]
        }

    # sandbox page

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


async def _read_params(request: web.Request) -> JSON:
    """Query, form and JSON arguments merged, as the Web API accepts all three."""
    params: JSON = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            params.update(data)
    else:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _content(params: JSON) -> tuple[str, list[JSON] | None]:
    """`text` and `blocks` of a message, refused as Slack refuses them."""
    text = _str(params.get("text"))
    if len(text) > MAX_TEXT:
        raise _Refused("msg_too_long")
    blocks = params.get("blocks")
    if blocks is None or blocks == "":
        return text, None
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise _Refused("invalid_blocks_format") from None
    if not isinstance(blocks, list):
        raise _Refused("invalid_blocks_format")
    errors = block_errors(blocks)
    if errors:
        messages = [f"[ERROR] {e}" for e in errors]
        raise _Refused("invalid_blocks", errors=errors, response_metadata={"messages": messages})
    return text, blocks


def _view(params: JSON, kind: str) -> JSON:
    """The `view` argument of views.open/update/publish, refused as Slack refuses a bad one."""
    view = params.get("view")
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            raise _Refused("invalid_arguments") from None
    if not isinstance(view, dict) or view.get("type") != kind:
        raise _Refused("invalid_arguments")
    errors = [
        f"{e.replace('[json-pointer:/', '[json-pointer:/view/')}"
        for e in block_errors(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS)
    ]
    limits = {"callback_id": 255, "private_metadata": 3000, "external_id": 255}
    for key, limit in limits.items():
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors.append(f"must be at most {limit} characters [json-pointer:/view/{key}]")
    if kind == "modal":
        for key in ("title", "submit", "close"):
            text = view.get(key)
            if text is None and key != "title":
                continue
            if (
                not isinstance(text, dict)
                or text.get("type") != "plain_text"
                or not (0 < len(str(text.get("text") or "")) <= 24)
            ):
                errors.append(
                    f"must be a plain_text of 1 to 24 characters [json-pointer:/view/{key}]"
                )
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"] or []
        )
        if has_input and view.get("submit") is None:
            errors.append("a view with input blocks needs submit [json-pointer:/view/submit]")
    if errors:
        raise _Refused("invalid_arguments", response_metadata={"messages": errors})
    return dict(view)


def _parse_ack(text: str, content_type: str) -> JSON | str | None:
    if not text.strip():
        return None
    if "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        return parsed if isinstance(parsed, dict) else text
    return text


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> bool:
    return value is True or _str(value).lower() == "true"


def _trigger_id() -> str:
    return f"{int(time.time() * 1000)}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex}"
