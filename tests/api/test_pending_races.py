"""Calls racing for one target over the real HTTP API, on SQLite and PostgreSQL: of many
POSTs in flight at once exactly one files and every other is refused (409) naming it,
because the database's unique key decides, not a read made before the write."""

from __future__ import annotations

import asyncio

import pytest

from bot.config.settings import Settings
from tests.support.api import API_TOKENS, ApiUser
from tests.support.bot import RunningBot

NUMBER = {"app_id": "sfv_app_abc123xyz456", "number": "+918000000001"}
BURST = 20


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


async def test_concurrent_posts_for_one_target_file_one_request(bot: RunningBot) -> None:
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    answers = await asyncio.gather(
        *(api.file("unlink", [NUMBER], f"INC-4411 try {i}") for i in range(BURST))
    )
    filed = [a.body["id"] for a in answers if a.status == 201]
    assert len(filed) == 1, [(a.status, a.body) for a in answers]
    refused = [a for a in answers if a.status == 409]
    assert len(refused) == BURST - 1, [(a.status, a.body) for a in answers]
    assert {a.body["pending_request"] for a in refused} == set(filed)
    stored = await bot.services.store.list_requests(orgs=["acme"])
    assert [r.id for r in stored] == filed
