"""A result once obtained from SFVoPI is kept and reported truthfully, through a database blip.

Before, a lease heartbeat that hit a short database outage turned a completed execution into
"something went wrong" for the approver, and left the request `executing` until its lease
lapsed. The database here fails for a moment, the way a restarting PostgreSQL does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.config.settings import Settings
from bot.core.models import Outcome, Status
from bot.core.org import OrgDirectory
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import BotClock, RunningBot, start_bot
from tests.support.slack_user import UNLINK, ask, card, click, request_id_in, told

Write = Callable[..., Awaitable[Any]]


def failing(real: Write, times: int) -> tuple[Write, list[int]]:
    """`real`, except that its first `times` calls fail as a database that went away."""
    calls: list[int] = []

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("UPDATE requests", {}, ConnectionError("server closed"))
        return await real(*args, **kwargs)

    return flaky, calls


@pytest.fixture
async def short_lease(
    request: pytest.FixtureRequest,
    bot_settings: Settings,
    orgs: OrgDirectory,
    slack: SlackStandin,
    bot_clock: BotClock,
) -> AsyncIterator[RunningBot]:
    """The bot built with the lease the test names (indirect parametrization)."""
    settings = bot_settings.model_copy(update={"lease_seconds": request.param})
    running = await start_bot(settings, orgs, slack, clock=bot_clock)
    yield running
    await running.stop()


@pytest.mark.parametrize("short_lease", [0.9], indirect=True)  # a heartbeat every 0.3 s
async def test_a_blip_during_execution_changes_no_outcome(
    slack: SlackStandin,
    short_lease: RunningBot,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = short_lease
    store = bot.services.store  # the API takes 1 s, past the lease without its heartbeats
    emulator.latency = 1.0
    renew, renewals = failing(store.renew, 2)
    record, records = failing(store.record_target, 1)
    finish, finishes = failing(store.finish, 1)
    monkeypatch.setattr(store, "renew", renew)
    monkeypatch.setattr(store, "record_target", record)
    monkeypatch.setattr(store, "finish", finish)

    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")

    assert len(renewals) >= 2 and len(records) == 2 and len(finishes) == 2
    done = await store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert done.targets[0].outcome is Outcome.DONE
    assert not any("went wrong" in t for t in told(slack, "U0BOB"))
    assert "Done" in str(card(slack, request_id).blocks)
    assert sum(emulator.effective.values()) == 1


@pytest.mark.parametrize("short_lease", [0.4], indirect=True)
async def test_a_database_that_stays_away_is_told_honestly_and_finished_later(
    slack: SlackStandin,
    short_lease: RunningBot,
    bot_clock: BotClock,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = short_lease
    store = bot.services.store
    record, _ = failing(store.record_target, 1000)
    monkeypatch.setattr(store, "record_target", record)

    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await click(slack, bot, "U0BOB", request_id, "approve")
    (said,) = [t for t in told(slack, "U0BOB") if f"#{request_id}" in t]
    assert "ran, but recording it is delayed" in said and "went wrong" not in said

    monkeypatch.undo()  # the database is back; once the lease lapses, recovery finishes it
    bot_clock.at = time.time() + 60
    await bot.sweep_once()
    await bot.settle()
    done = await store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert done.targets[0].outcome is Outcome.ALREADY_ABSENT  # sent before: 404 means gone
    assert sum(emulator.effective.values()) == 1
