"""What the internet-facing HTTP server allows a stranger: bounded bodies, deadlines, a cap on
connections, and a log that strangers cannot write to (one counted line per interval).

The numbers are constants, not settings: Slack sends a few small signed requests a second at
most, so these bounds sit far above real traffic and far below what hurts the process.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestHandler

from bot.observability.counted import CountedWarnings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Largest body read (Slack's payloads are a few KB); a bigger one is refused unread."""

REQUEST_TIMEOUT = 10.0
"""Seconds a connection has, from opening or from its previous answer, to deliver one whole
request (headers and body). It doubles as the keep-alive timeout of an idle connection."""

BODY_TIMEOUT = REQUEST_TIMEOUT
"""Seconds the handler waits for a body it has started reading (a trickle gets 408)."""

BODY_GRACE = 5.0
"""Seconds the connection guard waits past BODY_TIMEOUT, so the handler's 408 is sent first."""

LINGERING_TIME = 2.0
"""Seconds aiohttp spends discarding a body we answered without reading (default 10)."""

MAX_CONNECTIONS = 512
"""Open connections at most; never more than half the descriptor limit (see `connection_cap`)."""

REJECTION_LOG_INTERVAL = 60.0
"""Rejected requests are counted and logged at most once per this many seconds."""


def connection_cap(limit: int = MAX_CONNECTIONS) -> int:
    """`limit`, lowered to half of RLIMIT_NOFILE so the database, the Slack client and the log
    always have descriptors left."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return limit
    return max(1, min(limit, soft // 2))


def escaped(text: str, limit: int = 200) -> str:
    """Request-borne text made safe for one log line: control characters escaped, bounded."""
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])
    return out + ("…" if len(text) > limit else "")


class RejectionLog(CountedWarnings):
    """Counts rejected requests by reason; the first of a quiet spell is logged at once, the
    rest as one summary line per interval. Never a body, never a header value."""

    def __init__(self, interval: float = REJECTION_LOG_INTERVAL) -> None:
        super().__init__(
            log, "rejected a request to /slack/events", "rejected %d requests", interval
        )


class MalformedHttpFilter(logging.Filter):
    """aiohttp logs a traceback for every request its parser refuses (bad request line, header
    too long, …); for a stranger's garbage that is a log flood, so count it instead."""

    def __init__(self, rejections: RejectionLog) -> None:
        super().__init__()
        self.rejections = rejections

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            self.rejections.note("malformed HTTP")
            return False
        return True


class BareErrors(RequestHandler):
    """aiohttp's protocol, minus the text of its own error pages: those quote what its parser
    refused (a header line, a bearer token on it) back to the sender; the status is enough."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        return super().handle_error(request, status, exc)


class _Connection(asyncio.Protocol):
    """aiohttp's protocol for one connection, wrapped so the guard sees it open and close."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.inner.connection_made(transport)
        self.guard.admit(self)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        self.inner.connection_lost(exc)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class ConnectionGuard:
    """A cap on open connections and a deadline on each one that is not being answered.

    A connection is *waiting* (for a whole request) from the moment it opens or is answered,
    and *working* once the handler holds its whole request. A waiting connection is closed at
    its deadline (moved past the handler's own body deadline once its headers are in, so a
    trickled body gets its 408); past the cap, the oldest waiting connection that was never
    answered is shed first, then the oldest idle keep-alive one; working connections are never
    shed (when all are working, the newcomer is closed).
    """

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        timeout: float = REQUEST_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT + BODY_GRACE,
    ) -> None:
        self.max_connections = max_connections or connection_cap()
        self.timeout = timeout
        self.body_timeout = body_timeout
        self.shed = 0
        self.expired = 0
        self._fresh: dict[_Connection, None] = {}  # never answered, oldest first
        self._idle: dict[_Connection, None] = {}  # answered, waiting for the next request
        self._working: set[_Connection] = set()
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}

    def __len__(self) -> int:
        return len(self._fresh) + len(self._idle) + len(self._working)

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        """For `loop.create_server`: aiohttp's own protocol (as `server()` makes it, with bare
        error pages), watched by this guard."""

        def connection() -> asyncio.Protocol:
            loop = asyncio.get_running_loop()
            return _Connection(self, BareErrors(server, loop=loop, **server._kwargs))

        return connection

    def admit(self, conn: _Connection) -> None:
        assert conn.transport is not None
        if len(self) >= self.max_connections:
            victim = next(iter(self._fresh), None) or next(iter(self._idle), None) or conn
            self.shed += 1
            if victim is conn:
                conn.close()
                return
            self.forget(victim)
            victim.close()
        self._by_transport[conn.transport] = conn
        self._fresh[conn] = None
        self._wait(conn)

    def working(self, request: web.BaseRequest) -> None:
        """The handler holds the whole request: no deadline, never shed, until answered."""
        conn = self._find(request)
        if conn is not None and conn not in self._working:
            self._fresh.pop(conn, None)
            self._idle.pop(conn, None)
            self._working.add(conn)
            if conn.deadline is not None:
                conn.deadline.cancel()
                conn.deadline = None

    def reading(self, request: web.BaseRequest) -> None:
        """Whole headers are in and the handler reads the body under its own deadline (a 408
        when it passes): the connection's deadline moves past that one."""
        conn = self._find(request)
        if conn is not None and conn not in self._working:
            self._wait(conn, self.body_timeout)

    def answered(self, request: web.BaseRequest) -> None:
        """Back to waiting, with a fresh deadline for the next request (keep-alive)."""
        conn = self._find(request)
        if conn is not None:
            self._working.discard(conn)
            self._fresh.pop(conn, None)
            self._idle.pop(conn, None)
            self._idle[conn] = None
            self._wait(conn)

    def forget(self, conn: _Connection) -> None:
        self._fresh.pop(conn, None)
        self._idle.pop(conn, None)
        self._working.discard(conn)
        if conn.transport is not None:
            self._by_transport.pop(conn.transport, None)
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None

    def _find(self, request: web.BaseRequest) -> _Connection | None:
        transport = request.transport
        return self._by_transport.get(transport) if transport is not None else None

    def _wait(self, conn: _Connection, timeout: float | None = None) -> None:
        if conn.deadline is not None:
            conn.deadline.cancel()
        conn.deadline = asyncio.get_running_loop().call_later(
            timeout or self.timeout, self._expire, conn
        )

    def _expire(self, conn: _Connection) -> None:
        conn.deadline = None
        if conn not in self._working:
            self.expired += 1
            self.forget(conn)
            conn.close()

    def middleware(self) -> Middleware:
        """Marks body-less requests working at once, those with a body reading, and every
        request answered at the end."""

        @web.middleware
        async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.body_exists:
                self.reading(request)
            else:
                self.working(request)
            try:
                return await handler(request)
            finally:
                self.answered(request)

        return guarded
