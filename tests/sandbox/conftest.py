"""Fixtures for the sandbox tests: a running sandbox, an HTTP client and a headless Chromium."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox import Sandbox, start_sandbox
from tests.sandbox.browser import BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS, async_playwright
from tests.support.database import fresh_bot_database

with contextlib.suppress(ImportError):  # the browser tests skip without it
    from playwright.async_api import Browser


@pytest.fixture
async def sandbox(tmp_path: Path, migrated_sqlite: Path) -> AsyncIterator[Sandbox]:
    """The sandbox on a copy of the session's migrated database (a new one is migrated in a
    child process first, a cost tests/sandbox/test_sandbox_database.py pays)."""
    (tmp_path / "sandbox").mkdir()
    database = tmp_path / "sandbox" / "sandbox.db"
    fresh_bot_database(migrated_sqlite, database)
    running = await start_sandbox(port=0, database=database)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session (a launch costs seconds): each test opens its
    page in a context of its own (browser.open_page), so no storage or tour state is shared."""
    if BROWSER_MISSING or async_playwright is None:
        pytest.fail(f"SFVOPI_TEST_REQUIRE_BROWSER is set but {BROWSER_MISSING}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()
