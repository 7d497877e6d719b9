"""Socket Mode: `apps.connections.open`, the WebSocket it hands out, and envelopes sent
over it to the bot, each waiting for its ack."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
from aiohttp import web

from bot.sandbox.slack_standin.base import StandinBase
from bot.sandbox.slack_workspace import APP_ID, JSON, Ack


class SocketMode(StandinBase):
    def __init__(self) -> None:
        super().__init__()
        self.socket_mode = False
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._pending: dict[str, asyncio.Future[JSON]] = {}

    @property
    def connections(self) -> int:
        return len(self._sockets)

    def configure_socket(self, app_token: str | None) -> None:
        """Deliver commands and clicks over Socket Mode; None goes back to HTTP."""
        if app_token is not None:
            self.app_token = app_token
        self.socket_mode = app_token is not None

    def _apps_connections_open(self, params: JSON) -> JSON:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        url = f"ws://{self._host}:{self._port}/socket?ticket={ticket}&app_id={APP_ID}"
        return {"ok": True, "url": url}

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
