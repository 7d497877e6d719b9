"""`response_url`: what each one posts into, and each post applied as Slack applies it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from bot.sandbox.slack_standin.faults import Faults
from bot.sandbox.slack_standin.params import Refused, as_str, content
from bot.sandbox.slack_workspace import JSON, ApiCall

RESPONSE_URL_POSTS = 5
RESPONSE_URL_TTL = 30 * 60.0


@dataclass(kw_only=True)
class ResponseTarget:
    """What a response_url posts into; `ts` is the "original" that replace/delete act on."""

    kind: Literal["command", "message", "ephemeral"]
    user: str
    channel: str
    ts: str | None
    created: float = field(default_factory=time.time)
    posts: int = 0


class ResponseUrls(Faults):
    def __init__(self) -> None:
        super().__init__()
        self._targets: dict[str, ResponseTarget] = {}
        self.response_url_gone = False
        self.response_url_ttl = RESPONSE_URL_TTL

    def reset(self) -> None:
        self._targets.clear()
        self.response_url_gone = False
        self.response_url_ttl = RESPONSE_URL_TTL
        super().reset()

    def _issue_response_url(
        self,
        kind: Literal["command", "message", "ephemeral"],
        user: str,
        channel: str,
        ts: str | None,
    ) -> tuple[str, ResponseTarget]:
        token = uuid.uuid4().hex
        target = ResponseTarget(kind=kind, user=user, channel=channel, ts=ts)
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

    def _respond(self, target: ResponseTarget | None, body: Any) -> tuple[int, str]:
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
            text, blocks = content(body)
        except Refused as refused:
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
            thread_ts = as_str(body.get("thread_ts")) or None
            self.add_message(target.channel, text, blocks=blocks, thread_ts=thread_ts)
        else:
            ephemeral = self.add_ephemeral(
                target.channel, target.user, text, blocks, source="response_url"
            )
            if target.kind == "command":
                target.ts = ephemeral.ts
        return 200, "ok"

    def _delete_original(self, target: ResponseTarget) -> None:
        if target.ts is None:
            return
        if target.kind == "message":
            self.delete_message(target.channel, target.ts)
        elif (original := self.ephemeral(target.channel, target.ts)) is not None:
            self.delete_ephemeral(original)


def _flag(value: Any) -> bool:
    return value is True or as_str(value).lower() == "true"
