"""Fixtures for the SFVoPI client's unit tests with respx: a mocked API and a client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
import respx
from pydantic import SecretStr

from bot.sfvopi import SfvopiClient

__all__ = ["APP", "APP_BODY", "BASE", "KEY", "LINK", "NUMBERS", "api", "client", "ok"]

BASE = "https://sfvopi.test/superfone"
KEY = SecretStr("test-key-unit-not-real")
APP = "sfv_app_abc123xyz456"
NUMBERS = f"{BASE}/sfvopi/apps/{APP}/numbers"
LINK: dict[str, Any] = {  # +918000000001 linked to APP, as the numbers endpoints answer it
    "app_id": APP,
    "voip_number": "+918000000001",
    "org_id": 7,
    "status": "ACTIVE",
    "created_at": "2024-05-01T09:30:00.000Z",
    "updated_at": None,
}
APP_BODY: dict[str, Any] = {  # APP as the app endpoints answer it
    "app_id": APP,
    "org_id": 7,
    "name": "Support line",
    "answer_url": "https://voice.example.com/answer",
    "answer_method": "POST",
    "hangup_url": None,
    "hangup_method": "POST",
    "fallback_answer_url": "https://voice.example.com/fallback",
    "fallback_answer_method": "GET",
    "status": "INACTIVE",
    "created_by": 12,
    "created_at": "2024-05-01T09:30:00.000Z",
    "updated_at": None,
}


def ok(data: object) -> dict[str, Any]:
    """SFVoPI's success envelope around `data`."""
    return {"data": data, "message": "success"}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture
async def client() -> AsyncIterator[SfvopiClient]:
    """A client on BASE (given with a trailing slash, which it must drop), fast back-off."""
    async with SfvopiClient(BASE + "/", timeout=5.0, backoff=0.001) as c:
        yield c
