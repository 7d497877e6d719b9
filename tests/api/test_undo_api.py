"""`POST /api/v1/requests/{id}/undo` over the real server, checked against the OpenAPI
document: a delete undone comes back as a new app (its id in the answer), its numbers linked;
a second undo, a request not run, and another org's request are refused as documented."""

from __future__ import annotations

import pytest

from bot.config.settings import Settings
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.api import API_TOKENS, ApiUser
from tests.support.bot import RunningBot
from tests.support.emulator import ACME_KEY
from tests.support.slack_user import click

APP = "sfv_app_def789ghi012"


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    """The same bot, on SQLite and on PostgreSQL."""
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def test_a_delete_undone_over_http_comes_back_with_a_new_app_id(
    bot: RunningBot, slack: SlackStandin, emulator: Emulator
) -> None:
    api = ApiUser.for_bot(bot.url, API_TOKENS["pagerduty"])  # acts as U0ALICE
    name = emulator.app(ACME_KEY, APP)["name"]
    filed = await api.file("delete", [{"app_id": APP}], "CHG-1207 decommission")
    assert filed.status == 201, filed.body
    number = filed.body["id"]
    not_yet = await api.call("POST", f"/api/v1/requests/{number}/undo")
    assert not_yet.status == 409 and "only a request that ran" in not_yet.body["detail"]
    await bot.settle()
    await click(slack, bot, "U0BOB", number, "approve")
    await click(slack, bot, "U0CAROL", number, "approve")
    assert not emulator.has_app(ACME_KEY, APP)

    undone = await api.call(
        "POST", f"/api/v1/requests/{number}/undo", json={"reason": "still in use"}
    )
    assert undone.status == 201, undone.body
    undo = undone.body["id"]
    assert undone.headers["Location"] == f"/api/v1/requests/{undo}"
    assert (undone.body["action"], undone.body["undoes"], undone.body["state"]) == (
        "undo",
        number,
        "pending",
    )
    again = await api.call("POST", f"/api/v1/requests/{number}/undo")
    assert again.status == 409 and f"by request #{undo}" in again.body["detail"]
    other = ApiUser.for_bot(bot.url, API_TOKENS["globex-bot"])
    hidden = await other.call("POST", f"/api/v1/requests/{number}/undo")
    assert hidden.status == 404
    assert hidden.body["detail"] == f"there is no request #{number} in your organization"

    await bot.settle()
    await click(slack, bot, "U0BOB", undo, "approve")
    done = await api.get(undo)
    assert done.body["state"] == "succeeded", done.body
    recreate, *links = done.body["targets"]
    new_app = recreate["new_app_id"]
    assert new_app and new_app != APP and "a new app_id" in recreate["message"]
    assert [t["outcome"] for t in links] == ["done", "done"]
    assert emulator.app(ACME_KEY, new_app)["name"] == name
    assert emulator.numbers(ACME_KEY, new_app) == {"+918000000003", "+918000000004"}
    first = await api.get(number)
    assert first.body["links"]["undo"] == f"/api/v1/requests/{number}/undo"
