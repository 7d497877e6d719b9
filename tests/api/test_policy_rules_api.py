"""Policy rules at the HTTP API's door: a rule's deny is a 403 problem in the rule's own
words with nothing filed; a request a rule allows is filed needing the rule's approvals."""

from __future__ import annotations

import pytest

from bot.config.settings import Settings
from tests.support.api import API_ORGS_YAML, API_TOKENS, ApiUser
from tests.support.bot import RunningBot
from tests.support.policy_orgs import HOTLINE, HOTLINE_SAYS, PROD_APP, with_rules


@pytest.fixture
def api_orgs_yaml() -> str:
    return with_rules(API_ORGS_YAML)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def test_a_deny_is_a_403_in_the_rules_words_and_nothing_is_filed(bot: RunningBot) -> None:
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    target = {"app_id": HOTLINE.app_id, "number": HOTLINE.number or ""}
    answer = await api.file("unlink", [target], "cleanup CHG-1")
    assert answer.status == 403, answer.body
    assert answer.body["type"] == "urn:sfvopi-bot:problem:not-allowed"
    assert HOTLINE_SAYS in answer.body["detail"] and "rule 1 'hotlines'" in answer.body["detail"]
    assert await bot.services.store.list_requests(orgs=["acme", "globex"]) == []

    filed = await api.file("delete", [{"app_id": PROD_APP}], "decommission CHG-2")
    assert filed.status == 201, filed.body
    assert filed.body["approvals"]["needed"] == 2
