"""Fixtures for the sandbox tests: a running sandbox, an HTTP client and a headless Chromium."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sandbox import Sandbox, start_sandbox
from tests.sandbox.browser import BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS, async_playwright

with contextlib.suppress(ImportError):  # the browser tests skip without it
    from playwright.async_api import Browser


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    running = await start_sandbox(port=0)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if BROWSER_MISSING or async_playwright is None:
        pytest.fail(f"SFVOPI_TEST_REQUIRE_BROWSER is set but {BROWSER_MISSING}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()
