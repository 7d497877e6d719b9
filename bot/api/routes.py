"""The HTTP API's routes, mounted under /api/v1 on the HTTP front door (bot/slack/http.py).

Each call is judged in the front door's order: the bearer token first (nothing is read for a
stranger), then the bounded body, then the workflow with the client's acting identity, bound
to the client's org (another org's request does not exist, as far as the client may know).
Every call on a request the client may see is an `api_call` event of that request; every
refusal is counted and logged (never the token, never the body).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter

from bot.api.auth import REALM, Strangers, authenticate, bearer
from bot.api.bodies import (
    cancel_reason,
    filing,
    idempotency_key,
    read_json,
    request_number,
    undo_body,
    wait_seconds,
)
from bot.api.openapi import openapi_document
from bot.api.problems import Problem, problem_for
from bot.api.views import BASE, request_view
from bot.api.waiting import POLL_SECONDS, Changes
from bot.core import ids
from bot.core.models import Request
from bot.core.org import ApiClient
from bot.core.preview import Purpose, StoredPreview
from bot.core.workflow import Workflow
from bot.errors import ApiProblem, BotError, KeyReused, RequestNotFound
from bot.observability.context import log_context

__all__ = ["Api", "ApiStore", "mount"]

log = logging.getLogger(__name__)


class ApiStore(Protocol):
    """What the API needs of the store beyond the workflow (bot.store.Store has it)."""

    async def record_api_call(
        self, request_id: int, *, client: str, call: str, status: int, actor: str, now: float
    ) -> None: ...

    async def ping(self) -> bool: ...

    async def latest_preview(
        self, request_id: int, purpose: Purpose | None = None
    ) -> StoredPreview | None: ...


@dataclass
class Call:
    """One call as it goes: which request it turned out to concern (one the client may see)."""

    name: str
    client: ApiClient | None = None
    request_id: int | None = None


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def calls_counter(registry: CollectorRegistry) -> Counter:
    """`sfvopi_bot_api_calls_total`, once per registry (a bot's metrics have their own)."""
    if registry not in _COUNTERS:
        _COUNTERS[registry] = Counter(
            "sfvopi_bot_api_calls",
            "HTTP API calls, by client (or 'none' when unauthenticated), call and status",
            ["client", "call", "status"],
            registry=registry,
        )
    return _COUNTERS[registry]


@dataclass
class Api:
    """The routes over one bot's workflow; `working` tells the front door's connection guard
    a call's whole request is in, `spawn` runs work that must outlive the call."""

    workflow: Workflow
    store: ApiStore
    registry: CollectorRegistry
    working: Callable[[web.BaseRequest], None] = lambda _request: None
    spawn: Callable[[Coroutine[Any, Any, Any], str], None] = lambda work, _name: _run(work)
    clock: Callable[[], float] = time.time
    changes: Changes = field(default_factory=Changes)
    strangers: Strangers = field(default_factory=Strangers)

    @property
    def calls(self) -> Counter:
        return calls_counter(self.registry)

    # -- every call -------------------------------------------------------------------------

    def route(
        self, name: str, handler: Callable[[web.Request, Call], Awaitable[web.Response]]
    ) -> Handler:
        """Authentication, problems, the event, the count and the log line around a handler."""

        async def call(request: web.Request) -> web.StreamResponse:
            this = Call(name)
            try:
                this.client = self._authenticated(request)
                with log_context(actor=this.client.acts_as, org=this.client.org):
                    response = await handler(request, this)
            except BotError as error:  # ApiProblem (ours) and the workflow's refusals
                response = self._refused(this, problem_for(error))
            except Exception:
                log.exception("HTTP API call %s failed", name)
                up = await self._database_up()
                response = (
                    Problem("internal", "the bot could not do this; its log says why")
                    if up
                    else problem_for_database_down()
                ).response()
            await self._recorded(this, response.status)
            client = this.client.name if this.client is not None else "none"
            self.calls.labels(client, name, str(response.status)).inc()
            return response

        return call

    def _authenticated(self, request: web.Request) -> ApiClient:
        header = request.headers.get("Authorization")
        client = authenticate(self.workflow.orgs.api_clients(), header)
        if client is not None:
            return client
        given = bearer(header) is not None
        self.strangers.note("unknown token" if given else "no bearer token")
        challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if given else "")
        raise ApiProblem(
            "unauthenticated",
            "this token is not a client's of this bot"
            if given
            else "send Authorization: Bearer <token> (a token named in the org file)",
            headers={"WWW-Authenticate": challenge},
        )

    def _refused(self, call: Call, problem: Problem) -> web.Response:
        if call.client is None:
            return problem.response()  # a stranger: counted by Strangers, never a line each
        log.info(
            "HTTP API %s by client %s refused: %s %s",
            call.name,
            call.client.name,
            problem.status,
            problem.slug,
        )
        return problem.response()

    async def _recorded(self, call: Call, status: int) -> None:
        """The call as an event of its request; a database that fails here costs the record,
        never the answer (the workflow's own events hold what changed)."""
        if call.client is None or call.request_id is None:
            return
        try:
            await self.store.record_api_call(
                call.request_id,
                client=call.client.name,
                call=call.name,
                status=status,
                actor=call.client.acts_as,
                now=self.clock(),
            )
        except Exception as exc:
            log.warning(
                "could not record HTTP API %s on request %s (%s)",
                call.name,
                call.request_id,
                type(exc).__name__,
            )

    async def _database_up(self) -> bool:
        try:
            async with asyncio.timeout(2):
                return await self.store.ping()
        except Exception:
            return False

    async def _visible(self, client: ApiClient, number: int) -> Request:
        """The request, if the client's identity may see it in the client's own org; the same
        404, by the same path, for no such request, another org's (nothing of that org is
        read), or one the identity may not see."""
        try:
            return await self.workflow.status(number, user=client.acts_as, org=client.org)
        except RequestNotFound:
            raise ApiProblem(
                "not-found", f"there is no request #{number} in your organization"
            ) from None

    # -- the routes -------------------------------------------------------------------------

    async def file(self, request: web.Request, call: Call) -> web.Response:
        client = _client(call)
        key = idempotency_key(request.headers.get("Idempotency-Key"))
        body = await read_json(request)
        self.working(request)
        assert body is not None
        asked = filing(body)
        if asked.org is not None and asked.org != client.org:
            raise ApiProblem("not-allowed", f"this client files requests in org {client.org} only")
        try:
            filed = await self.workflow.file(
                requester=client.acts_as,
                action=asked.action,
                targets=list(asked.targets),
                reason=asked.reason,
                org=client.org,
                dedupe_key=f"api:{client.name}:{key}" if key is not None else None,
                again=asked.again,
                break_glass=asked.break_glass,
                at=asked.at,
            )
        except KeyReused:
            raise ApiProblem(
                "idempotency-key-reused",
                f"Idempotency-Key `{ids.shown(key or '', 100)}` was already used with a "
                "different request; nothing was filed. Send that request again to get it, or "
                "use a new key for this one",
            ) from None
        number = call.request_id = filed.request.id
        log.info("HTTP API client %s filed request %s", client.name, number)
        if filed.claim is not None:  # break-glass: it runs now, whatever becomes of this call
            self.spawn(self.workflow.execute(number, filed.claim), f"api-break-glass-{number}")
        return web.json_response(
            request_view(filed.request),
            status=201,
            headers={"Location": f"{BASE}/requests/{number}"},
        )

    async def status(self, request: web.Request, call: Call) -> web.Response:
        client = _client(call)
        number = request_number(request.match_info["id"])
        wait = wait_seconds(request.query)
        found = await self._visible(client, number)
        call.request_id = number
        if wait and not found.status.final:
            call.name = "wait"
            found = await self._wait(client, number, wait)
        return web.json_response(request_view(found, await self.store.latest_preview(number)))

    async def _wait(self, client: ApiClient, number: int, seconds: int) -> Request:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        with self.changes.watching(client.name, number) as changed:
            current = await self._visible(client, number)  # read after listening: none missed
            while not current.status.final and not self.changes.closing:
                left = deadline - loop.time()
                if left <= 0:
                    break
                await self.changes.pause(changed, min(POLL_SECONDS, left))
                current = await self._visible(client, number)
        return current

    async def cancel(self, request: web.Request, call: Call) -> web.Response:
        client = _client(call)
        number = request_number(request.match_info["id"])
        body = await read_json(request, required=False)
        self.working(request)
        reason = cancel_reason(body)
        await self._visible(client, number)
        call.request_id = number
        done = await self.workflow.cancel(number, user=client.acts_as, note=reason)
        log.info("HTTP API client %s cancelled request %s", client.name, number)
        return web.json_response(request_view(done, await self.store.latest_preview(number)))

    async def undo(self, request: web.Request, call: Call) -> web.Response:
        """Files the undo of a request that ran: a new request (201), pending for approvals,
        or run at once when it breaks glass. A retry is refused (409) naming the undo filed."""
        client = _client(call)
        number = request_number(request.match_info["id"])
        body = await read_json(request, required=False)
        self.working(request)
        reason, glass = undo_body(body)
        await self._visible(client, number)
        call.request_id = number
        filed = await self.workflow.undoing.file(
            number,
            requester=client.acts_as,
            reason=reason,
            break_glass=glass,
        )
        undo = filed.request.id
        log.info("HTTP API client %s filed request %s, undoing %s", client.name, undo, number)
        if filed.claim is not None:
            self.spawn(self.workflow.execute(undo, filed.claim), f"api-undo-{undo}")
        return web.json_response(
            request_view(filed.request), status=201, headers={"Location": f"{BASE}/requests/{undo}"}
        )

    async def openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.workflow.max_targets))


def _run(work: Coroutine[Any, Any, Any]) -> None:
    """Without a front door's background set (a bare mount): a task of its own, kept until
    it ends."""
    task = asyncio.get_running_loop().create_task(work)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


_RUNNING: set[asyncio.Task[Any]] = set()


def _client(call: Call) -> ApiClient:
    assert call.client is not None
    return call.client


def problem_for_database_down() -> Problem:
    return Problem(
        "unavailable",
        "the database is not answering; try again in a moment",
        headers={"Retry-After": "5"},
    )


@web.middleware
async def problems_for_http_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own refusals under /api/v1 (no such route, wrong method) as problems too."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        problem = Problem("method-not-allowed", f"use {allowed} here", headers={"Allow": allowed})
    except web.HTTPNotFound:
        problem = Problem("not-found", "no such route; see /api/v1/openapi.json")
    return problem.response()


def mount(
    app: web.Application,
    *,
    workflow: Workflow,
    store: ApiStore,
    registry: CollectorRegistry,
    working: Callable[[web.BaseRequest], None] = lambda _request: None,
    spawn: Callable[[Coroutine[Any, Any, Any], str], None] | None = None,
) -> Api:
    """Adds /api/v1 to the front door's `app`: its routes, long-polls woken by the workflow,
    and every wait answered at shutdown."""
    api = Api(workflow, store, registry, working)
    if spawn is not None:
        api.spawn = spawn
    workflow.subscribe(lambda request, _after_ack: api.changes.changed(request))
    calls_counter(registry)
    routes = web.Application(middlewares=[problems_for_http_errors])
    routes.router.add_post("/requests", api.route("file", api.file))
    routes.router.add_get("/requests/{id}", api.route("status", api.status))
    routes.router.add_post("/requests/{id}/cancel", api.route("cancel", api.cancel))
    routes.router.add_post("/requests/{id}/undo", api.route("undo", api.undo))
    routes.router.add_get("/openapi.json", api.openapi)
    app.add_subapp("/api/v1", routes)

    async def answer_waits(_app: web.Application) -> None:
        api.changes.close()

    async def stop_counting(_app: web.Application) -> None:
        api.strangers.close()

    app.on_shutdown.append(answer_waits)
    app.on_cleanup.append(stop_counting)
    return api
