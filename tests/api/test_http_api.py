"""The HTTP API end to end: an incident bot files over HTTP, a person approves in Slack, the
bot's long-poll returns the outcome; cancel; waits that end on another replica. Over the real
server, the Slack stand-in and the SFVoPI emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.config.settings import Settings
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.api import API_TOKENS, ApiUser
from tests.support.bot import RunningBot, start_bot
from tests.support.emulator import ACME_KEY
from tests.support.slack_user import card, card_text, click, dms

NUMBER = {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The same bot, on SQLite and on PostgreSQL."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


def incident_bot(bot: RunningBot, client: str = "incident-bot") -> ApiUser:
    return ApiUser.for_bot(bot.url, API_TOKENS[client])


async def test_an_incident_bot_files_a_person_approves_and_its_wait_returns_the_outcome(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    api = incident_bot(bot)
    filed = await api.file("unlink", [NUMBER], "INC-4411: fraud on this DID")
    assert filed.status == 201, filed.body
    number = filed.body["id"]
    assert filed.headers["Location"] == f"/api/v1/requests/{number}"
    assert (filed.body["state"], filed.body["requester"]) == ("pending", "api:incident-bot")
    await bot.settle()
    # the same card as for a person, naming the service identity (not a Slack mention)
    shown = card_text(card(slack, number))
    assert "`api:incident-bot`" in shown and "<@api:" not in shown

    waiting = asyncio.create_task(api.get(number, wait=30))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # held: nothing has decided it yet
    await click(slack, bot, "U0BOB", number, "approve")
    done = await asyncio.wait_for(waiting, timeout=30)

    assert done.status == 200
    assert (done.body["state"], done.body["final"]) == ("succeeded", True)
    assert [g["by"] for g in done.body["approvals"]["given"]] == ["U0BOB"]
    [target] = done.body["targets"]
    assert (target["outcome"], target["api_status"]) == ("done", 200)
    assert target["number"] == "+918000000001" and target["attempts"] == 1
    assert "+918000000001" not in emulator.numbers(ACME_KEY, "sfv_app_abc123xyz456")
    # the service identity has no DM; nothing was sent to it
    assert not any("api:" in str(c.params.get("channel", "")) for c in slack.calls)

    events = await bot.services.store.events(number)
    calls = [(e.actor, e.detail) for e in events if e.kind == "api_call"]
    assert ("api:incident-bot", {"client": "incident-bot", "call": "file", "status": 201}) in calls
    assert ("api:incident-bot", {"client": "incident-bot", "call": "wait", "status": 200}) in calls
    assert events[0].kind == "requested" and events[0].actor == "api:incident-bot"


async def test_a_client_acting_as_a_person_files_and_cancels_with_a_reason(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    api = incident_bot(bot, "pagerduty")  # acts as U0ALICE, a requester in acme
    filed = await api.file("delete", [{"app_id": "sfv_app_def789ghi012"}], "CHG-1207 decommission")
    assert filed.status == 201, filed.body
    number = filed.body["id"]
    assert filed.body["requester"] == "U0ALICE"
    await bot.settle()

    cancelled = await api.cancel(number, "filed by mistake")
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["state"] == "cancelled" and cancelled.body["final"]
    assert (cancelled.body["decided_by"], cancelled.body["decision_note"]) == (
        "U0ALICE",
        "filed by mistake",
    )
    await bot.settle()
    assert "cancelled" in card_text(card(slack, number)).lower()
    assert emulator.has_app(ACME_KEY, "sfv_app_def789ghi012")
    again = await api.cancel(number)
    assert again.status == 409 and "was cancelled" in again.body["detail"]

    events = await bot.services.store.events(number)
    assert [e.detail["status"] for e in events if e.kind == "api_call"] == [201, 200, 409]
    assert any(e.kind == "cancelled" and e.actor == "U0ALICE" for e in events)
    assert not dms(slack, "U0ALICE")  # the answer told them; no DM repeats it


async def test_a_wait_answers_after_its_seconds_with_the_state_as_it_stands(
    bot: RunningBot,
) -> None:
    api = incident_bot(bot)
    filed = await api.file("unlink", [NUMBER], "INC-4411")
    waited = await api.get(filed.body["id"], wait=1)
    assert waited.status == 200
    assert (waited.body["state"], waited.body["final"]) == ("pending", False)


async def test_a_retried_post_with_the_same_idempotency_key_files_once(
    bot: RunningBot,
) -> None:
    api = incident_bot(bot)
    body = {"action": "unlink", "targets": [NUMBER], "reason": "INC-4411"}
    key = {"Idempotency-Key": "pd-incident-4411-step-1"}
    first = await api.call("POST", "/api/v1/requests", json=body, headers=key)
    second = await api.call("POST", "/api/v1/requests", json=body, headers=key)
    assert first.status == second.status == 201
    assert first.body["id"] == second.body["id"]
    pending = await bot.services.store.list_requests(orgs=["acme"])
    assert [r.id for r in pending] == [first.body["id"]]
    # without the key, the same targets are refused as already pending, naming the request
    third = await api.call("POST", "/api/v1/requests", json=body)
    assert third.status == 409 and third.body["pending_request"] == first.body["id"]
    assert '"again": true' in third.body["detail"]


async def test_a_key_sent_again_with_a_different_request_files_nothing_and_is_422(
    bot: RunningBot,
) -> None:
    """Before: 201 with the first request, the new targets silently never filed."""
    api = incident_bot(bot)
    key = {"Idempotency-Key": "pd-incident-4411-step-1"}
    body = {"action": "unlink", "targets": [NUMBER], "reason": "INC-4411"}
    first = await api.call("POST", "/api/v1/requests", json=body, headers=key)
    assert first.status == 201
    second = {**NUMBER, "number": "+918000000002"}
    for changed in (
        {**body, "targets": [NUMBER, second]},
        {**body, "reason": "INC-4412"},
        {"action": "delete", "targets": [{"app_id": NUMBER["app_id"]}], "reason": "INC-4411"},
    ):
        refused = await api.call("POST", "/api/v1/requests", json=changed, headers=key)
        assert refused.status == 422, refused.body
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.body["type"] == "urn:sfvopi-bot:problem:idempotency-key-reused"
        assert (
            "`pd-incident-4411-step-1` was already used with a different request"
            in (refused.body["detail"])
        )
    # the same request written otherwise (key order, spacing, a target twice) is a retry
    same = b"""{"reason": "  INC-4411 ", "targets": [
        {"number": "+918000000001", "app_id": "sfv_app_abc123xyz456"},
        {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}], "action": "unlink"}"""
    retried = await api.call(
        "POST",
        "/api/v1/requests",
        content=same,
        headers={**key, "Content-Type": "application/json"},
    )
    assert retried.status == 201 and retried.body["id"] == first.body["id"]
    filed = await bot.services.store.list_requests(orgs=["acme"])
    assert [(r.id, r.reason, len(r.targets)) for r in filed] == [(first.body["id"], "INC-4411", 1)]


def moment(start: int, hours: int, offset: str = "Z") -> str:
    """An `at` this many whole hours after `start` (a whole minute, taken once per test, so
    two calls a minute boundary apart still name one moment), in UTC or at +05:30."""
    at = start + 3600 * hours
    if offset == "Z":
        return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(at))
    return time.strftime("%Y-%m-%dT%H:%M+05:30", time.gmtime(at + 5 * 3600 + 1800))


async def test_a_key_sent_again_with_another_at_files_nothing_and_is_422(
    bot: RunningBot,
) -> None:
    """`at` is part of the request: another time, or none, under the key files nothing. Before:
    201 with the first request, as if the time asked were the first one's."""
    api = incident_bot(bot)
    key = {"Idempotency-Key": "chg-7-unlink"}
    start = int(time.time()) // 60 * 60
    body = {"action": "unlink", "targets": [NUMBER], "reason": "CHG-7", "at": moment(start, 2)}
    first = await api.call("POST", "/api/v1/requests", json=body, headers=key)
    assert first.status == 201, first.body
    without = {k: v for k, v in body.items() if k != "at"}
    for changed in ({**body, "at": moment(start, 3)}, without):
        refused = await api.call("POST", "/api/v1/requests", json=changed, headers=key)
        assert refused.status == 422, refused.body
        assert refused.body["type"] == "urn:sfvopi-bot:problem:idempotency-key-reused"
    # the same moment at another offset, and `again` (it changes nothing filed): a retry
    same = {**body, "at": moment(start, 2, "+05:30"), "again": True}
    retried = await api.call("POST", "/api/v1/requests", json=same, headers=key)
    assert retried.status == 201 and retried.body["id"] == first.body["id"]
    assert retried.body["run_after"] == first.body["run_after"]
    filed = await bot.services.store.list_requests(orgs=["acme"])
    assert [r.id for r in filed] == [first.body["id"]]


async def test_posts_racing_under_one_key_with_two_requests_file_one(bot: RunningBot) -> None:
    """Three POSTs of one request and three of another, at once, under one key: one request
    is filed, its three POSTs answer it, the other three are refused (422)."""
    api = incident_bot(bot)
    for attempt in range(3):
        key = {"Idempotency-Key": f"race-{attempt}"}
        bodies = [
            {
                "action": "unlink",
                "targets": [{**NUMBER, "number": f"+9180000001{attempt}{which}"}],
                "reason": f"INC-44{attempt}{which}",
            }
            for which in (0, 1)
        ]
        answers = await asyncio.gather(
            *(
                api.call("POST", "/api/v1/requests", json=bodies[i % 2], headers=key)
                for i in range(6)
            )
        )
        won = [a for a in answers if a.status == 201]
        assert sorted(a.status for a in answers) == [201] * 3 + [422] * 3, answers
        assert len({a.body["id"] for a in won}) == 1
        assert len({a.body["reason"] for a in won}) == 1
    filed = await bot.services.store.list_requests(orgs=["acme"])
    assert len(filed) == 3


async def test_a_wait_ends_when_the_request_ends_on_another_replica(
    bot_settings: Settings,
    orgs: OrgDirectory,
    slack: SlackStandin,
    emulator: Emulator,
) -> None:
    """Replica A holds the long-poll; the approval lands on replica B (the stand-in delivers
    to the last bot started), which runs the request: A learns it from the database."""
    first = await start_bot(bot_settings, orgs, slack)
    second = await start_bot(bot_settings, orgs, slack)
    try:
        api = incident_bot(first)
        filed = await api.file("unlink", [NUMBER], "INC-4411: fraud on this DID")
        assert filed.status == 201
        number = filed.body["id"]
        await first.settle()
        waiting = asyncio.create_task(api.get(number, wait=30))
        await asyncio.sleep(0.2)
        await click(slack, second, "U0BOB", number, "approve")
        done = await asyncio.wait_for(waiting, timeout=30)
        assert done.body["state"] == "succeeded"
        assert [t["outcome"] for t in done.body["targets"]] == ["done"]
        assert not emulator.numbers(ACME_KEY, "sfv_app_abc123xyz456") & {"+918000000001"}
    finally:
        await second.stop()
        await first.stop()


async def test_a_bot_shutting_down_answers_its_waits_with_the_state_as_it_stands(
    bot_settings: Settings, orgs: OrgDirectory, slack: SlackStandin
) -> None:
    """A wait never holds a stopping bot for its full length: it answers, and the client asks
    again (of another replica)."""
    running = await start_bot(bot_settings, orgs, slack)
    try:
        api = incident_bot(running)
        filed = await api.file("unlink", [NUMBER], "INC-4411")
        waiting = asyncio.create_task(api.get(filed.body["id"], wait=30))
        await asyncio.sleep(0.3)
        await running.runner.shutdown()  # what closing the front door starts with
        answer = await asyncio.wait_for(waiting, timeout=20)
        assert (answer.status, answer.body["state"]) == (200, "pending")
    finally:
        await running.stop()
