"""Break-glass over the HTTP API: a client whose acting role the org's policy names runs a
request at once (answered 201, run after the answer, once), cited incident and pending review
in its state; any other client, or no incident where one is required, is refused."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config.settings import Settings
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.api import API_TOKENS, ApiUser
from tests.support.bot import RunningBot
from tests.support.emulator import ACME_KEY

POLICY = "      break_glass: {roles: [admin], require_incident: true, review_within_minutes: 60}\n"
NUMBER = {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}
FILE: dict[str, Any] = {"action": "unlink", "targets": [NUMBER], "reason": "fraud in progress"}


@pytest.fixture
def orgs_yaml(api_orgs_yaml: str) -> str:
    """acme lets its admins break glass (the admin-tool client acts as U0DAVE, an admin)."""
    marker = "      self_approval: false\n"
    return api_orgs_yaml.replace(marker, marker + POLICY, 1)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def test_an_allowed_client_breaks_glass_and_waits_for_the_outcome(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    api = ApiUser.for_bot(bot.url, API_TOKENS["admin-tool"])
    filed = await api.file(**FILE, break_glass={"incident": "inc-4411"})
    assert filed.status == 201, filed.body
    assert filed.body["state"] in ("executing", "succeeded")
    done = await api.get(filed.body["id"], wait=30)
    assert (done.body["state"], done.body["final"]) == ("succeeded", True)
    assert done.body["approvals"]["given"] == []  # nobody else was asked
    assert done.body["break_glass"]["incident"] == "INC-4411"
    assert done.body["break_glass"]["review"] == "pending"
    assert done.body["break_glass"]["review_due_at"]
    assert [t["outcome"] for t in done.body["targets"]] == ["done"]
    await bot.settle()
    assert "+918000000001" not in emulator.numbers(ACME_KEY, "sfv_app_abc123xyz456")
    assert sum(1 for c in emulator.writes if c.method == "DELETE") == 1


async def test_break_glass_is_refused_to_other_roles_and_without_an_incident(
    bot: RunningBot, emulator: Emulator
) -> None:
    requester = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    refused = await requester.file(**FILE, break_glass={"incident": "INC-4411"})
    assert refused.status == 403 and "only for: admin" in refused.body["detail"]
    admin = requester.as_client(API_TOKENS["admin-tool"])
    no_incident = await admin.file(**FILE, break_glass={})
    assert no_incident.status == 422 and "needs an incident id" in no_incident.body["detail"]
    not_an_incident = await admin.file(**FILE, break_glass={"incident": "fraud!"})
    assert not_an_incident.status == 422
    assert await bot.services.store.list_requests(orgs=["acme"]) == []
    assert emulator.writes == []


async def test_a_key_sent_again_breaking_glass_or_citing_another_incident_is_422(
    bot: RunningBot, emulator: Emulator
) -> None:
    """Break-glass and its incident are part of the request under an Idempotency-Key: a
    request filed for approval is not run by a replay that breaks glass, nor a break-glass
    one told again with another incident."""
    admin = ApiUser.for_bot(bot.url, API_TOKENS["admin-tool"])
    key = {"Idempotency-Key": "fraud-4411"}
    filed = await admin.call("POST", "/api/v1/requests", json=FILE, headers=key)
    assert filed.status == 201 and filed.body["state"] == "pending"
    glass = {**FILE, "break_glass": {"incident": "INC-4411"}}
    refused = await admin.call("POST", "/api/v1/requests", json=glass, headers=key)
    assert refused.status == 422, refused.body
    assert refused.body["type"] == "urn:sfvopi-bot:problem:idempotency-key-reused"
    assert emulator.writes == []  # nothing ran

    other = {"Idempotency-Key": "fraud-4412"}  # its number shared with the pending one
    broke = await admin.call(
        "POST", "/api/v1/requests", json={**glass, "again": True}, headers=other
    )
    assert broke.status == 201, broke.body
    elsewhere = {**FILE, "break_glass": {"incident": "INC-9999"}, "again": True}
    told = await admin.call("POST", "/api/v1/requests", json=elsewhere, headers=other)
    assert told.status == 422, told.body
    # without `again`, which changes nothing filed: the same request, not run again
    same = await admin.call("POST", "/api/v1/requests", json=glass, headers=other)
    assert same.status == 201 and same.body["id"] == broke.body["id"]
    await bot.settle()
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 2
    assert sum(1 for c in emulator.writes if c.method == "DELETE") == 1  # run once
