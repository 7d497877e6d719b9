"""The Slack stand-in behaves like Slack wherever the bot depends on it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox.slack_standin import (
    BOT_USER_ID,
    RateLimited,
    SlackServerError,
    SlackStandin,
    Timeout,
)
from tests.support.slack import SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Request #17* unlink"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "17",
            },
            {
                "type": "button",
                "action_id": "deny",
                "text": {"type": "plain_text", "text": "Deny"},
                "style": "danger",
                "value": "17",
            },
        ],
    },
]


@dataclass
class EchoBot:
    """A tiny stand-in bot: checks Slack's signature and keeps what it was sent."""

    url: str = ""
    received: list[tuple[bytes, dict[str, str], bool]] = field(default_factory=list)
    reply: Callable[[bytes], Awaitable[web.StreamResponse]] | None = None

    def forms(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(body.decode())) for body, _, _ in self.received]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def echo_bot() -> AsyncIterator[EchoBot]:
    bot = EchoBot()
    verifier = SignatureVerifier(SLACK_SIGNING_SECRET)

    async def events(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        valid = verifier.is_valid_request(body, dict(request.headers))
        bot.received.append((body, dict(request.headers), valid))
        if not valid:
            return web.Response(status=401)
        if bot.reply is not None:
            return await bot.reply(body)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    bot.url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    yield bot
    await runner.cleanup()


@pytest.fixture
def bot(echo_bot: EchoBot, slack: SlackStandin) -> EchoBot:
    echo_bot.received.clear()
    echo_bot.reply = None
    slack.configure(echo_bot.url, SLACK_SIGNING_SECRET)
    return echo_bot


def web_client(slack: SlackStandin, token: str = SLACK_BOT_TOKEN, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.api_url, **kwargs)


async def test_web_api_posts_threads_updates_and_ephemerals(slack: SlackStandin) -> None:
    client = web_client(slack)
    auth = await client.auth_test()
    assert (auth["user_id"], auth["team_id"], auth["bot_id"]) == (BOT_USER_ID, "T0TEST", "B0BOT")

    posted = await client.chat_postMessage(
        channel="C0APPROVALS", text="Request #17", blocks=BUTTONS
    )
    card = slack.message("C0APPROVALS", posted["ts"])
    assert (
        card is not None and card.user == BOT_USER_ID and card.action_ids() == ["approve", "deny"]
    )
    assert posted["message"]["blocks"][1]["block_id"] == "decide"
    assert posted["message"]["blocks"][0]["block_id"]

    reply = await client.chat_postMessage(
        channel="C0APPROVALS", text="done", thread_ts=posted["ts"]
    )
    await client.chat_update(channel="C0APPROVALS", ts=posted["ts"], text="Approved", blocks=[])
    assert [m.text for m in slack.messages("C0APPROVALS")] == ["Approved"]
    assert [m.ts for m in slack.thread("C0APPROVALS", posted["ts"])] == [reply["ts"]]
    assert card.edited == 1 and card.blocks == []
    assert float(reply["ts"]) > float(posted["ts"])

    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C0APPROVALS", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"

    dm = await client.chat_postMessage(channel="U0ALICE", text="your request ran")
    assert dm["channel"].startswith("D")
    opened = await client.conversations_open(users="U0ALICE")
    assert opened["channel"]["id"] == dm["channel"]
    assert [m.text for m in slack.dms("U0ALICE")] == ["your request ran"]

    await client.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="only you")
    [ephemeral] = slack.ephemerals("U0ALICE")
    assert (ephemeral.channel, ephemeral.text, ephemeral.from_ack) == ("C0OPS", "only you", False)

    post_call = next(c for c in slack.calls if c.method == "chat.postMessage")
    assert post_call.ok and "token" not in post_call.params and post_call.params["text"]


async def test_bad_token_and_bad_blocks_are_refused(slack: SlackStandin) -> None:
    with pytest.raises(SlackApiError) as refused:
        await web_client(slack, token="xoxb-wrong").chat_postMessage(channel="C0OPS", text="x")
    assert refused.value.response["error"] == "invalid_auth"

    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as invalid:
        await web_client(slack).chat_postMessage(channel="C0OPS", text="x", blocks=too_long)
    assert invalid.value.response["error"] == "invalid_blocks"
    assert slack.messages("C0OPS") == []
    assert [c.error for c in slack.calls] == ["invalid_auth", "invalid_blocks"]


async def test_rate_limit_is_retried_by_slack_sdk_and_posts_once(slack: SlackStandin) -> None:
    slack.fail("chat.postMessage", RateLimited(retry_after=0))
    client = web_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    response = await client.chat_postMessage(channel="C0OPS", text="hello")
    assert response["ok"]
    assert [m.text for m in slack.messages("C0OPS")] == ["hello"]
    assert [(c.status, c.error) for c in slack.calls] == [(429, "ratelimited"), (200, None)]


async def test_server_error_changes_nothing(slack: SlackStandin) -> None:
    slack.fail("chat.postMessage", SlackServerError())
    with pytest.raises(SlackApiError) as failed:
        await web_client(slack).chat_postMessage(channel="C0OPS", text="hello")
    assert failed.value.response.status_code == 500
    assert slack.messages("C0OPS") == []


async def test_sign_matches_signature_verifier(slack: SlackStandin) -> None:
    slack.configure("http://127.0.0.1:9/unused", SLACK_SIGNING_SECRET)
    body = b"token=x&text=unlink+%2B918000000001"
    headers = slack.sign(body)
    verifier = SignatureVerifier(SLACK_SIGNING_SECRET)
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    stale = slack.sign(body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)


async def test_command_sends_signed_form_and_shows_ack_as_ephemeral(
    slack: SlackStandin, bot: EchoBot
) -> None:
    async def reply(body: bytes) -> web.StreamResponse:
        text = dict(parse_qsl(body.decode()))["text"]
        return web.json_response({"text": f"Request #17 filed: {text}"})

    bot.reply = reply
    result = await slack.command("U0ALICE", "unlink +918000000001 app_abc123 fraud")
    assert result.ok and result.json == {
        "text": "Request #17 filed: unlink +918000000001 app_abc123 fraud"
    }
    [(_, headers, valid)] = bot.received
    assert valid and headers["Content-Type"] == "application/x-www-form-urlencoded"
    [form] = bot.forms()
    assert list(form) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert form["user_id"] == "U0ALICE" and form["channel_id"] == "C0OPS"
    assert form["command"] == "/sfvopi" and form["response_url"].startswith(slack.url)
    assert result.ephemeral is not None and result.ephemeral.from_ack
    assert [e.text for e in slack.ephemerals("U0ALICE")] == [result.json["text"]]

    forged = await slack.raw_post(b"user_id=U0CAROL&text=delete", {"X-Slack-Signature": "v0=00"})
    assert forged.status == 401


async def test_response_url_takes_five_posts_then_used_url(
    slack: SlackStandin, bot: EchoBot
) -> None:
    result = await slack.command("U0ALICE", "status")
    hook = AsyncWebhookClient(result.response_url)
    for n in range(5):
        assert (await hook.send(text=f"update {n}")).status_code == 200
    sixth = await hook.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert [e.text for e in slack.ephemerals("U0ALICE")] == [f"update {n}" for n in range(5)]
    assert [c.status for c in slack.calls if c.method == "response_url"] == [200] * 5 + [404]


async def test_click_sends_block_actions_and_response_url_replaces_card(
    slack: SlackStandin, bot: EchoBot
) -> None:
    posted = await web_client(slack).chat_postMessage(
        channel="C0APPROVALS", text="Request #17", blocks=BUTTONS
    )
    result = await slack.click("U0BOB", "C0APPROVALS", posted["ts"], "approve")
    assert result.ok
    [form] = bot.forms()
    payload = json.loads(form["payload"])
    assert payload == result.payload
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0BOB" and payload["team"]["id"] == "T0TEST"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0APPROVALS",
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == posted["ts"] and payload["message"]["bot_id"] == "B0BOT"
    [action] = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "style", "type")} == {
        "action_id": "approve",
        "block_id": "decide",
        "value": "17",
        "style": "primary",
        "type": "button",
    }
    forged = await slack.click("U0BOB", "C0APPROVALS", posted["ts"], "deny", value="99")
    assert forged.payload["actions"][0]["value"] == "99"

    hook = AsyncWebhookClient(result.response_url)
    await hook.send(text="Approved by <@U0BOB>", replace_original=True)
    card = slack.message("C0APPROVALS", posted["ts"])
    assert card is not None and card.text == "Approved by <@U0BOB>" and card.blocks == []

    with pytest.raises(LookupError, match="approve"):
        await slack.click("U0BOB", "C0APPROVALS", posted["ts"], "approve")
    with pytest.raises(LookupError):
        await slack.click("U0BOB", "C0APPROVALS", "1.000001", "approve")


async def test_wait_for_sees_background_posts(slack: SlackStandin) -> None:
    client = web_client(slack)

    async def later() -> None:
        await asyncio.sleep(0.02)
        await client.chat_postMessage(channel="C0OPSLOG", text="#17 succeeded")

    task = asyncio.create_task(later())
    [message] = await slack.wait_for(lambda: slack.messages("C0OPSLOG"), timeout=2)
    await task
    assert message.text == "#17 succeeded"
    with pytest.raises(TimeoutError):
        await slack.wait_for(lambda: slack.messages("C0NOTHING"), timeout=0.05)


async def test_socket_mode_client_receives_command_and_acks_with_payload(
    slack: SlackStandin,
) -> None:
    received: list[SocketModeRequest] = []

    async def on_request(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        payload = (
            {"text": f"got {request.payload.get('text')}"}
            if request.accepts_response_payload
            else None
        )
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload))

    socket_client = SocketModeClient(
        app_token=SLACK_APP_TOKEN, web_client=AsyncWebClient(base_url=slack.api_url)
    )
    socket_client.socket_mode_request_listeners.append(on_request)
    try:
        await socket_client.connect()
        slack.configure_socket(SLACK_APP_TOKEN)
        result = await slack.command("U0ALICE", "whoami")
        assert result.ok and result.transport == "socket"
        assert result.json == {"text": "got whoami"}
        assert [e.text for e in slack.ephemerals("U0ALICE")] == ["got whoami"]
        [request] = received
        assert request.type == "slash_commands" and request.payload["user_id"] == "U0ALICE"
        assert request.payload["response_url"] == result.response_url

        posted = await web_client(slack).chat_postMessage(
            channel="C0APPROVALS", text="x", blocks=BUTTONS
        )
        click = await slack.click("U0BOB", "C0APPROVALS", posted["ts"], "deny")
        assert click.ok and click.body is None
        assert received[-1].type == "interactive"
        assert received[-1].payload["actions"][0]["action_id"] == "deny"
    finally:
        await socket_client.close()
    assert any(c.method == "apps.connections.open" and c.ok for c in slack.calls)


async def test_slow_ack_is_shown_as_slack_operation_timeout(
    slack: SlackStandin, bot: EchoBot
) -> None:
    async def slow(body: bytes) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.Response(status=200)

    bot.reply = slow
    slack.ack_timeout = 0.05
    result = await slack.command("U0ALICE", "status")
    assert result.timed_out and not result.ok and result.status is None
    [shown] = slack.ephemerals("U0ALICE")
    assert shown.source == "slack" and "operation_timeout" in shown.text


async def test_timeout_fault_outlasts_the_client_and_changes_nothing(slack: SlackStandin) -> None:
    slack.fail("chat.postMessage", Timeout(0.2))
    with pytest.raises(TimeoutError):
        await web_client(slack, timeout=0.05).chat_postMessage(channel="C0OPS", text="hello")
    await slack.wait_for(lambda: [c for c in slack.calls if c.status == 503], timeout=2)
    assert slack.messages("C0OPS") == []


async def test_state_endpoint_long_polls_for_the_sandbox_page(slack: SlackStandin) -> None:
    since = slack.version
    async with aiohttp.ClientSession() as session:
        poll = asyncio.create_task(
            session.get(f"{slack.url}_standin/state", params={"since": since, "timeout": 2})
        )
        await asyncio.sleep(0.01)
        assert not poll.done()
        await web_client(slack).chat_postMessage(channel="C0OPS", text="hello")
        async with await poll as response:
            state = await response.json()
    assert state["version"] > since
    assert [m["text"] for m in state["channels"]["C0OPS"]["messages"]] == ["hello"]
    assert state["calls"][-1]["method"] == "chat.postMessage"
