"""The HTTP API shows what the card shows of a request a Workflow Builder step filed: that
its requester is only the workflow's word (`filed_by_step`). Over the real server and the
Slack stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.config.settings import Settings
from bot.sandbox.slack_standin import SlackStandin
from bot.slack.blocks import STEP_NOTICE
from tests.support.api import API_TOKENS, ApiUser
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, card, card_text

STEP_INPUTS = {
    "org": "acme",
    "targets": "+918000000001 sfv_app_abc123xyz456",
    "reason": "fraud on this DID, INC-4411",
    "requester": "U0ALICE",
}


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


@pytest.fixture
def orgs_yaml(orgs_yaml: str) -> str:
    """acme, with its API clients, lets workflow steps file into it."""
    marker = "    members:\n"
    assert marker in orgs_yaml
    return orgs_yaml.replace(marker, "    workflow_steps: {enabled: true}\n" + marker, 1)


async def test_a_request_a_step_filed_says_so_and_one_filed_over_the_api_does_not(
    bot: RunningBot, slack: SlackStandin
) -> None:
    run, delivered = await slack.run_step("unlink_numbers", STEP_INPUTS)
    assert delivered.ok, delivered
    await bot.settle()
    (message,) = [m for m in slack.messages(APPROVALS) if "request #" in m.text]
    by_step = int(message.text.split("request #")[1].split()[0].strip("*:,."))
    assert STEP_NOTICE in card_text(card(slack, by_step))
    assert run.state == "running"

    api = ApiUser.for_bot(bot.url, API_TOKENS["pagerduty"])  # acts as U0ALICE
    shown = await api.get(by_step)
    assert shown.status == 200, shown.body
    assert shown.body["requester"] == "U0ALICE"
    assert shown.body["filed_by_step"] is True
    assert shown.body["approvals"]["needed"] == 2  # the unlink policy's 1, and 1 for a step

    filed = await api.file(
        "unlink",
        [{"app_id": "sfv_app_abc123xyz456", "number": "+918000000002"}],
        "INC-4412: fraud",
    )
    assert filed.status == 201, filed.body
    assert filed.body["filed_by_step"] is False
    assert (await api.get(filed.body["id"])).body["filed_by_step"] is False
