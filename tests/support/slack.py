"""Fixtures: one Slack stand-in (a real aiohttp server on loopback) for the whole run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.sandbox.slack_standin import SlackStandin

__all__ = ["slack", "slack_server"]

SLACK_BOT_TOKEN = "xoxb-test-not-real"
SLACK_APP_TOKEN = "xapp-test-not-real"
SLACK_SIGNING_SECRET = "signing-secret-not-real"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def slack_server() -> AsyncIterator[SlackStandin]:
    """Started once with the fake tokens above; tests get it clean through `slack`."""
    server = SlackStandin(bot_token=SLACK_BOT_TOKEN, app_token=SLACK_APP_TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def slack(slack_server: SlackStandin) -> Iterator[SlackStandin]:
    """The shared stand-in with an empty workspace, no faults, and HTTP delivery."""
    slack_server.reset()
    slack_server.configure_socket(None)
    yield slack_server
    slack_server.reset()
