"""What the HTTP API records of its calls: each call on a request, as an event of that request
(the client's name, the call, the answer's status), in the same chained log as every change."""

from __future__ import annotations

from bot.store.database import Database

__all__ = ["ApiCalls"]


class ApiCalls(Database):
    """Used by the HTTP API (bot/api), never by the workflow."""

    async def record_api_call(
        self, request_id: int, *, client: str, call: str, status: int, actor: str, now: float
    ) -> None:
        """One API call on request `request_id`: who called (`client`, acting as `actor`),
        what (`call`, e.g. "file", "status", "cancel") and what it was answered (`status`)."""
        async with self._write() as conn:
            await self._event(
                conn,
                request_id,
                now,
                actor,
                "api_call",
                {"client": client, "call": call, "status": status},
            )
