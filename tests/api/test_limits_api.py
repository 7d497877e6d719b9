"""Limits at the HTTP API's door: over a limit, a 429 problem saying when it frees up
(Retry-After, `frees_at`), nothing filed; a request alone over the limit, 403: waiting would
not help."""

from __future__ import annotations

import pytest

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from tests.support.api import API_ORGS_YAML, API_TOKEN_ENV, API_TOKENS, ApiUser
from tests.support.bot import BotClock, RunningBot
from tests.support.orgs import ORG_ENV
from tests.support.policy_orgs import with_limits

TEN = 1_796_637_600.0  # 2026-12-07 10:00 UTC
APP = "sfv_app_abc123xyz456"
LIMITS = """\
      limits:
        - {action: unlink, per: requester, targets: 3, within: 1h}
"""


@pytest.fixture
def api_orgs_yaml() -> str:
    return with_limits(API_ORGS_YAML, LIMITS)


@pytest.fixture
def bot_settings(bot_settings: Settings, bot_database_url: str) -> Settings:
    return bot_settings.model_copy(update={"database_url": bot_database_url})


def numbers(first: int, count: int) -> list[dict[str, str]]:
    return [{"app_id": APP, "number": f"+9180000{first + i:05d}"} for i in range(count)]


async def test_over_the_limit_is_a_429_saying_when_it_frees(
    bot: RunningBot, bot_clock: BotClock
) -> None:
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    bot_clock.at = TEN
    assert (await api.file("unlink", numbers(0, 2), "cleanup CHG-1")).status == 201
    bot_clock.at = TEN + 600
    over = await api.file("unlink", numbers(10, 2), "cleanup CHG-2")
    assert over.status == 429, over.body
    assert over.body["type"] == "urn:sfvopi-bot:problem:over-limit"
    assert "3 targets unlinked per requester per hour; 2 used" in over.body["detail"]
    assert over.body["frees_at"] == "2026-12-07T11:00:00Z"
    assert over.headers["Retry-After"] == "3000"

    alone = await api.file("unlink", numbers(20, 4), "cleanup CHG-3")
    assert alone.status == 403 and "frees_at" not in alone.body  # waiting would not help
    assert "alone is 4 targets" in alone.body["detail"]
    assert len(await bot.services.store.list_requests(orgs=["acme"])) == 1

    # the same door, another client acting as a person: its own count
    other = ApiUser.for_bot(bot.url, API_TOKENS["pagerduty"])
    assert (await other.file("unlink", numbers(30, 3), "cleanup CHG-4")).status == 201


async def test_over_a_needs_admin_limit_is_filed_needing_one_approval_more(
    bot: RunningBot, bot_clock: BotClock
) -> None:
    """`over: needs_admin`: a 201, not a 429; the request needs an admin besides."""
    text = with_limits(
        API_ORGS_YAML, LIMITS.replace("within: 1h}", "within: 1h, over: needs_admin}")
    )
    await bot.reload_orgs(parse_orgs(text, {**ORG_ENV, **API_TOKEN_ENV}))
    api = ApiUser.for_bot(bot.url, API_TOKENS["incident-bot"])
    bot_clock.at = TEN
    assert (await api.file("unlink", numbers(0, 2), "cleanup CHG-1")).status == 201
    over = await api.file("unlink", numbers(10, 2), "cleanup CHG-2")
    assert over.status == 201, over.body
    assert over.body["approvals"]["needed"] == 2
    stored = await bot.services.store.get(over.body["id"])
    assert stored is not None and stored.needs_admin is not None
    assert "2 used, this request 2): an admin must approve too" in stored.needs_admin
