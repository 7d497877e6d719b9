"""Work a Slack request starts waits for its ack: the card of a command, the run of a click.

The door's answer is held back here (a pause before it is written) so that any work started
too early would run inside that pause; every start is recorded beside the moment the ack
was written, and the ack must come first. Over the bot's real HTTP door, signed requests
and the Slack stand-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from bot.sandbox.slack_standin import SlackStandin
from bot.slack import http
from handlers import actions
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, UNLINK, ask, card, request_id_in

PAUSE = 0.2  # seconds the door waits before writing its ack: room for early work to show


@pytest.fixture
def order(bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happened, in order: "ack" when the door has written one, "<name>" when the
    work named so started."""
    seen: list[str] = []
    real_answer = http.to_aiohttp_response

    async def slow_answer(response: Any) -> web.Response:
        await asyncio.sleep(PAUSE)  # work started before the ack runs now, and shows
        return await real_answer(response)

    monkeypatch.setattr(http, "to_aiohttp_response", slow_answer)
    services = bot.services
    real_acked = services.metrics.acked

    def acked(door: str, kind: str, seconds: float) -> None:
        seen.append("ack")
        real_acked(door, kind, seconds)

    monkeypatch.setattr(services.metrics, "acked", acked)
    monkeypatch.setattr(services.notifier, "sync", recorded(seen, "sync", services.notifier.sync))
    monkeypatch.setattr(actions, "click", recorded(seen, "click", actions.click))
    return seen


def recorded(seen: list[str], name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    async def started(*args: Any, **kwargs: Any) -> Any:
        seen.append(name)
        return await real(*args, **kwargs)

    return started


async def test_a_commands_card_is_posted_only_after_its_ack(
    slack: SlackStandin, bot: RunningBot, order: list[str]
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))

    assert order[0] == "ack" and "sync" in order  # the card's sync started, after the ack
    assert card(slack, request_id).ts  # and the card is up: nothing was dropped


async def test_a_click_is_handled_only_after_its_ack(
    slack: SlackStandin, bot: RunningBot, order: list[str]
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    order.clear()

    result = await slack.click("U0BOB", APPROVALS, card(slack, request_id).ts, "sfvopi_approve")
    assert result.status == 200
    await bot.settle()

    assert order[0] == "ack" and "click" in order
