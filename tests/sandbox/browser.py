"""A real headless Chromium for the sandbox page tests: Debian's, never a downloaded one.

The browser tests need /usr/bin/chromium and the `playwright` package; they never download a
browser (`playwright install` is not used) and skip, saying why, when either is missing, unless
SFVOPI_TEST_REQUIRE_BROWSER=1 (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.sandbox import Sandbox

try:
    from playwright.async_api import Browser, Page, expect
    from playwright.async_api import async_playwright as _async_playwright
except ImportError:  # pragma: no cover - depends on the machine
    _async_playwright = None

async_playwright = _async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
if async_playwright is None:
    BROWSER_MISSING = "the playwright package is not installed (pip install playwright)"
elif not CHROMIUM.exists():
    BROWSER_MISSING = f"{CHROMIUM} is missing (apt-get install -y chromium); none is downloaded"
else:
    BROWSER_MISSING = ""
# CI sets this so a missing browser fails the run instead of skipping the browser test.
BROWSER_REQUIRED = os.environ.get("SFVOPI_TEST_REQUIRE_BROWSER", "") not in ("", "0")
needs_browser = pytest.mark.skipif(
    bool(BROWSER_MISSING) and not BROWSER_REQUIRED, reason=BROWSER_MISSING
)


@asynccontextmanager
async def open_page(
    browser: Browser, sandbox: Sandbox, width: int, height: int
) -> AsyncIterator[Page]:
    """The sandbox page in a fresh context (so the tour shows) at `width` by `height`.

    Any uncaught error in the page's script fails the test once the page is closed."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await opened.goto(sandbox.url)
        await expect(opened.locator("#channel-title")).to_have_text("#ops")
        yield opened
    finally:
        await context.close()
    assert errors == []


async def type_command(page: Page, text: str) -> None:
    """Type into the message box and press Enter, as a person would (commands and messages)."""
    await page.fill("#input", text)
    await page.press("#input", "Enter")
