"""The Events API: events delivered to the bot (and Slack's retries of them), the Home tab
opened, and the request URL check."""

from __future__ import annotations

import json
import time
import uuid

from bot.sandbox.slack_standin.params import as_str
from bot.sandbox.slack_standin.sender import VERIFICATION_TOKEN, Sender
from bot.sandbox.slack_workspace import APP_ID, BOT_USER_ID, JSON, TEAM_ID, Ack, EventResult


class Events(Sender):
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
        user = as_str(event.get("user")) if isinstance(event, dict) else None
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
