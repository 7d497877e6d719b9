"""The Slack stand-in's modals, Home tab and Events API behave as Slack does where the bot
depends on it: trigger_ids it issued, once and briefly; views checked; submissions, events and
URL checks sent signed; retries carrying the same event_id."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_standin import SlackStandin, Slow
from tests.support.slack import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET

CARD: list[dict[str, Any]] = [
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "deny",
                "text": {"type": "plain_text", "text": "Deny"},
                "value": "17",
            }
        ],
    }
]
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "why",
    "private_metadata": "17",
    "title": {"type": "plain_text", "text": "Deny request #17"},
    "submit": {"type": "plain_text", "text": "Deny"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}
HOME: dict[str, Any] = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "waiting: #17"}}, *CARD],
}


@dataclass
class Receiver:
    """A tiny bot: checks Slack's signature, keeps what it was sent, answers as told."""

    url: str = ""
    received: list[tuple[bytes, dict[str, str], bool]] = field(default_factory=list)
    reply: Callable[[bytes], Awaitable[web.StreamResponse]] | None = None

    def payloads(self) -> list[dict[str, Any]]:
        found = []
        for body, headers, _ in self.received:
            if headers.get("Content-Type", "").startswith("application/json"):
                found.append(json.loads(body))
            else:
                found.append(json.loads(dict(parse_qsl(body.decode()))["payload"]))
        return found


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver_server() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    verifier = SignatureVerifier(SLACK_SIGNING_SECRET)

    async def events(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        valid = verifier.is_valid_request(body, dict(request.headers))
        receiver.received.append((body, dict(request.headers), valid))
        if not valid:
            return web.Response(status=401)
        if receiver.reply is not None:
            return await receiver.reply(body)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    yield receiver
    await runner.cleanup()


@pytest.fixture
def receiver(receiver_server: Receiver, slack: SlackStandin) -> Receiver:
    receiver_server.received.clear()
    receiver_server.reply = None
    slack.configure(receiver_server.url, SLACK_SIGNING_SECRET)
    return receiver_server


def client(slack: SlackStandin) -> AsyncWebClient:
    return AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=slack.api_url)


async def clicked_trigger(slack: SlackStandin, receiver: Receiver, user: str = "U0BOB") -> str:
    posted = slack.add_message("C0APPROVALS", "card", blocks=CARD)
    result = await slack.click(user, "C0APPROVALS", posted.ts, "deny")
    assert result.ok
    return str(result.payload["trigger_id"])


async def error_of(call: Awaitable[Any]) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


async def test_views_open_takes_a_trigger_it_issued_once(
    slack: SlackStandin, receiver: Receiver
) -> None:
    trigger = await clicked_trigger(slack, receiver)
    opened = await client(slack).views_open(trigger_id=trigger, view=MODAL)
    assert opened["view"]["callback_id"] == "why" and opened["view"]["id"].startswith("V")
    modal = slack.modal_of("U0BOB")
    assert modal is not None and modal.view["private_metadata"] == "17"
    assert await error_of(client(slack).views_open(trigger_id=trigger, view=MODAL)) == (
        "exchanged_trigger_id"
    )
    assert await error_of(client(slack).views_open(trigger_id="1.2.forged", view=MODAL)) == (
        "invalid_trigger_id"
    )


async def test_a_trigger_expires(slack: SlackStandin, receiver: Receiver) -> None:
    trigger = await clicked_trigger(slack, receiver)
    slack.fail("views.open", Slow(0.3))
    slack.trigger_ttl = 0.2
    assert await error_of(client(slack).views_open(trigger_id=trigger, view=MODAL)) == (
        "expired_trigger_id"
    )
    assert slack.modal_of("U0BOB") is None


@pytest.mark.parametrize(
    "change",
    [
        {"title": {"type": "plain_text", "text": "x" * 25}},
        {"submit": None},
        {"type": "home"},
        {"blocks": [{"type": "section"}]},
        {"private_metadata": "x" * 3001},
    ],
)
async def test_a_bad_modal_is_refused(
    slack: SlackStandin, receiver: Receiver, change: dict[str, Any]
) -> None:
    trigger = await clicked_trigger(slack, receiver)
    bad = {k: v for k, v in (MODAL | change).items() if v is not None}
    assert await error_of(client(slack).views_open(trigger_id=trigger, view=bad)) == (
        "invalid_arguments"
    )


async def test_a_submission_is_signed_and_the_answer_keeps_or_closes_the_modal(
    slack: SlackStandin, receiver: Receiver
) -> None:
    trigger = await clicked_trigger(slack, receiver)
    await client(slack).views_open(trigger_id=trigger, view=MODAL)

    async def errors(_body: bytes) -> web.StreamResponse:
        return web.json_response({"response_action": "errors", "errors": {"reason": "why?"}})

    receiver.reply = errors
    kept = await slack.submit_view("U0BOB", "")
    assert kept.ok and not kept.closed and kept.errors == {"reason": "why?"}
    modal = slack.modal_of("U0BOB")
    assert modal is not None and modal.errors == {"reason": "why?"}

    receiver.reply = None
    closed = await slack.submit_view("U0BOB", "wrong DID")
    assert closed.closed and slack.modal_of("U0BOB") is None
    assert all(valid for _, _, valid in receiver.received)
    sent = receiver.payloads()[-1]
    assert sent["type"] == "view_submission" and sent["user"]["id"] == "U0BOB"
    assert sent["view"]["private_metadata"] == "17"
    assert sent["view"]["state"]["values"] == {
        "reason": {"text": {"type": "plain_text_input", "value": "wrong DID"}}
    }
    assert receiver.payloads()[-2]["view"]["state"]["values"]["reason"]["text"]["value"] is None


async def test_a_submission_answered_with_a_view_shows_it_in_place_of_the_modal(
    slack: SlackStandin, receiver: Receiver
) -> None:
    trigger = await clicked_trigger(slack, receiver)
    await client(slack).views_open(trigger_id=trigger, view=MODAL)
    answer: dict[str, Any] = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Nothing changed"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "already denied"}}],
    }

    async def update(_body: bytes) -> web.StreamResponse:
        return web.json_response({"response_action": "update", "view": answer})

    receiver.reply = update
    shown = await slack.submit_view("U0BOB", "")
    assert shown.ok and not shown.closed and not shown.errors
    modal = slack.modal_of("U0BOB")
    assert modal is not None and modal.view == answer and not modal.errors

    # a view Slack would refuse (a title over 24 characters) leaves the modal as it was
    too_long = answer | {"title": {"type": "plain_text", "text": "x" * 25}}

    async def bad_update(_body: bytes) -> web.StreamResponse:
        return web.json_response({"response_action": "update", "view": too_long})

    receiver.reply = bad_update
    await slack.submit_view("U0BOB", "")
    modal = slack.modal_of("U0BOB")
    assert modal is not None and modal.view == answer and "title" in modal.errors["view"]


async def test_home_opened_is_a_signed_event_and_a_retry_keeps_its_event_id(
    slack: SlackStandin, receiver: Receiver
) -> None:
    opened = await slack.open_home("U0BOB")
    assert opened.ok
    again = await slack.redeliver(opened.event, retry=2)
    assert again.ok
    (first, first_headers, first_valid), (second, headers, valid) = receiver.received
    assert first_valid and valid
    body = json.loads(first)
    assert body["type"] == "event_callback" and body["event_id"].startswith("Ev")
    assert body["event"] == opened.event["event"]
    assert body["event"]["type"] == "app_home_opened" and body["event"]["tab"] == "home"
    assert json.loads(second)["event_id"] == body["event_id"]
    assert "X-Slack-Retry-Num" not in first_headers
    assert headers["X-Slack-Retry-Num"] == "2" and headers["X-Slack-Retry-Reason"]


async def test_views_publish_keeps_each_persons_home_and_its_buttons_click(
    slack: SlackStandin, receiver: Receiver
) -> None:
    published = await client(slack).views_publish(user_id="U0BOB", view=HOME)
    assert published["view"]["type"] == "home"
    assert slack.homes["U0BOB"].action_ids() == ["deny"]
    assert await error_of(client(slack).views_publish(user_id="nobody", view=HOME)) == (
        "invalid_arguments"
    )
    assert await error_of(client(slack).views_publish(user_id="U0BOB", view=MODAL)) == (
        "invalid_arguments"
    )
    clicked = await slack.click_home("U0BOB", "deny", value="17")
    assert clicked.ok
    payload = receiver.payloads()[-1]
    assert payload["container"] == {"type": "view", "view_id": slack.homes["U0BOB"].id}
    assert "channel" not in payload and payload["actions"][0]["value"] == "17"
    with pytest.raises(LookupError):
        await slack.click_home("U0CAROL", "deny")


async def test_url_verification_is_sent_signed_or_not(
    slack: SlackStandin, receiver: Receiver
) -> None:
    async def echo(body: bytes) -> web.StreamResponse:
        return web.json_response({"challenge": json.loads(body)["challenge"]})

    receiver.reply = echo
    signed = await slack.verify_url("c-123")
    assert signed.json == {"challenge": "c-123"}
    unsigned = await slack.verify_url("c-456", signed=False)
    assert unsigned.status == 401
    assert "X-Slack-Signature" not in receiver.received[-1][1]
