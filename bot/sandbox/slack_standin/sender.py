"""The Slack client side's plumbing: how a delivery reaches the bot (a signed HTTP post, or
an envelope over Socket Mode), what its ack was, and each delivery recorded."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import aiohttp
from multidict import CIMultiDict
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack_standin.socket_mode import SocketMode
from bot.sandbox.slack_standin.views import Views
from bot.sandbox.slack_workspace import (
    APP_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    Ack,
    Delivery,
    DeliveryKind,
)

VERIFICATION_TOKEN = "verification-token-not-real"  # noqa: S105


class Sender(SocketMode, Views):
    def __init__(self) -> None:
        super().__init__()
        self._bot_url: str | None = None
        self._signing_secret: str | None = None

    def configure(self, bot_url: str, signing_secret: str) -> None:
        """Where commands and clicks go over HTTP, and the secret Slack signs them with."""
        self._bot_url = bot_url
        self._signing_secret = signing_secret

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

    async def _signed_post(self, body: bytes) -> Ack:
        return await self._post(body, self.sign(body))

    async def _interactive(self, payload: JSON, *, accepts_response_payload: bool) -> Ack:
        """An interactive payload (a click, a submitted view), over the socket or signed HTTP."""
        if self.socket_mode:
            return await self._envelope(
                "interactive", payload, accepts_response_payload=accepts_response_payload
            )
        return await self._signed_post(urlencode({"payload": json.dumps(payload)}).encode())

    def _block_actions(self, user: str, container: JSON) -> JSON:
        """The start of a `block_actions` payload: who clicked, where, and a fresh trigger."""
        return {
            "type": "block_actions",
            "user": self._payload_user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": self._issue_trigger(user),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _payload_user(self, user: str) -> JSON:
        """`user` as an interactive payload names them."""
        name = self.user_name(user)
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

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


def button_action(action_id: str, block_id: str, element: JSON) -> JSON:
    """A clicked button as a `block_actions` payload lists it."""
    return {
        "action_id": action_id,
        "block_id": block_id,
        "text": element.get("text"),
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
