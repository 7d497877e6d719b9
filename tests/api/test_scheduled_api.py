"""Scheduled execution at the HTTP API's door: `at` when filing (the rules of `--at`: past,
too far, with break-glass refused, nothing filed), its `run_after` in the request, the
request held for its window once approved (state scheduled, `run_at`), and cancelled through
the API while it waits. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

import pytest

from bot.core.models import Status
from tests.support.api import API_ORGS_YAML, API_TOKENS, ApiUser
from tests.support.bot import BotClock, RunningBot

START = 1_800_000_000.0  # Friday 2027-01-15, 08:00 UTC
APP = "sfv_app_abc123xyz456"
ONE = [{"app_id": APP, "number": "+918000000001"}]


@pytest.fixture
def api_orgs_yaml(request: pytest.FixtureRequest) -> str:
    window = 'windows: [{days: mon-sun, from: "10:00", to: "11:00", tz: UTC}]'
    yaml = API_ORGS_YAML.replace(
        "      unlink: {approvals: 1}\n", f"      unlink: {{approvals: 1, {window}}}\n", 1
    )
    if getattr(request, "param", None) == "a year":
        yaml = yaml.replace("    policy:\n", "    policy:\n      schedule_within_hours: 8784\n", 1)
    return yaml


async def test_at_files_a_request_not_run_before_it(bot: RunningBot, bot_clock: BotClock) -> None:
    bot_clock.at = START
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    filed = await api.file("unlink", ONE, "cleanup CHG-1", at="2027-01-15T16:00+05:30")
    assert filed.status == 201, filed.body
    assert filed.body["run_after"] == "2027-01-15T10:30:00Z"

    for at, says in (
        ("2027-01-15T07:00Z", "is in the past"),
        ("2027-03-01T10:00Z", "hours ahead"),
        ("tomorrow", "2026-12-08T02:00+05:30"),
    ):
        refused = await api.file(
            "unlink", [{"app_id": APP, "number": "+918000000002"}], "cleanup", at=at
        )
        assert refused.status == 422, refused.body
        assert says in refused.body["detail"]
    glass = await api.file("unlink", ONE, "x", at="2027-01-15T16:00Z", break_glass={})
    assert glass.status == 422 and "break-glass runs now" in glass.body["detail"]
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 1


async def test_a_scheduled_request_is_cancelled_through_the_api(
    bot: RunningBot, bot_clock: BotClock
) -> None:
    bot_clock.at = START
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    filed = await api.file("unlink", ONE, "cleanup CHG-2")
    request_id = filed.body["id"]
    await bot.services.workflow.approve(request_id, approver="U0BOB")
    held = await api.get(request_id)
    assert held.body["state"] == Status.SCHEDULED.value
    assert held.body["run_at"] == "2027-01-15T10:00:00Z"

    cancelled = await api.cancel(request_id, "change postponed")
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["state"] == "cancelled"
    assert cancelled.body["decision_note"] == "change postponed"


@pytest.mark.parametrize("api_orgs_yaml", ["a year"], indirect=True)
async def test_at_as_far_as_a_year_or_the_year_9999_is_answered_never_a_500(
    bot: RunningBot, bot_clock: BotClock
) -> None:
    """Under the longest `schedule_within_hours` an org file may say (8,784 h): the last
    minute of it files, the year 9999 and a date past it are refused (before, under
    `schedule_within_hours: 100000000`: 500 "the bot could not do this" and a traceback)."""
    bot_clock.at = START
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    last = "2028-01-16T10:30Z"  # START + 8,784 h is 2028-01-16T08:00Z: past it, refused
    within = "2028-01-16T07:59Z"
    for i, (at, status) in enumerate(
        ((within, 201), (last, 422), ("9999-12-31T23:59-23:59", 422), ("9999-12-31T10:30Z", 422))
    ):
        number = f"+91800000001{i}"
        filed = await api.file("unlink", [{"app_id": APP, "number": number}], "x", at=at)
        assert filed.status == status, (at, filed.body)
