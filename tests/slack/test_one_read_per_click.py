"""A click reads the request once and decides once; so does the form that confirms it.

Before, one Approve click read the request six times (the handler asked the workflow whether it
may decide, then checked, then approved, which read it again, then asked again whether the card
may be refreshed) and applied the permission rules three times. Counted here over the real
store, through the bot's HTTP server, with a signed click: each `store.get` is recorded with the
module that called it, so the card's own sync (the notifier renders from the store) is told
apart from the click's reads.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.slack_user import APPROVALS, ask, card, request_id_in, told

DELETE = "delete sfv_app_abc123xyz456 decommission, CHG-1207"  # acme: two approvals


@contextmanager
def reads_of(bot: RunningBot) -> Iterator[Counter[str]]:
    """Counts `store.get` by calling module while the block runs (the store stays real)."""
    store = bot.services.workflow.store
    real: Callable[..., Any] = store.get
    callers: Counter[str] = Counter()

    def counted(*args: Any, **kwargs: Any) -> Any:
        callers[sys._getframe(1).f_globals["__name__"]] += 1
        return real(*args, **kwargs)

    store.get = counted  # type: ignore[method-assign]
    try:
        yield callers
    finally:
        del store.get  # type: ignore[method-assign]


def by_the_click(callers: Counter[str]) -> int:
    """Reads made by the handler and the workflow (not the card's sync, after the change)."""
    return sum(n for module, n in callers.items() if module.startswith(("handlers", "bot.core")))


async def press(slack: SlackStandin, bot: RunningBot, user: str, request_id: int) -> None:
    result = await slack.click(user, APPROVALS, card(slack, request_id).ts, "sfvopi_approve")
    assert result.status == 200
    await bot.settle()


async def submit(slack: SlackStandin, bot: RunningBot, user: str) -> None:
    """Confirms the approval in the form the click opened."""
    result = await slack.submit_view(user)
    assert result.status == 200 and result.closed, result
    await bot.settle()


async def test_an_approval_that_does_not_complete_the_quorum_reads_the_request_once(
    slack: SlackStandin, bot: RunningBot
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    with reads_of(bot) as clicked:
        await press(slack, bot, "U0BOB", request_id)
    assert slack.modal_of("U0BOB") is not None
    assert sum(clicked.values()) == 1, clicked  # the click only opens the form
    with reads_of(bot) as callers:
        await submit(slack, bot, "U0BOB")
    assert told(slack, "U0BOB")[-1].startswith(f"You approved request #{request_id} (1 of 2)")
    assert by_the_click(callers) == 1, callers
    assert sum(callers.values()) == 2, callers  # and the card's sync reads it once


async def test_an_approval_that_completes_the_quorum_reads_it_once_and_its_results_once(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    await press(slack, bot, "U0BOB", request_id)
    await submit(slack, bot, "U0BOB")
    await press(slack, bot, "U0CAROL", request_id)
    with reads_of(bot) as callers:
        await submit(slack, bot, "U0CAROL")
    assert emulator.effective[("delete", "sfv_app_abc123xyz456", None)] == 1
    assert by_the_click(callers) == 2, callers  # before running, and the results after


async def test_a_refused_click_reads_the_request_once(slack: SlackStandin, bot: RunningBot) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    with reads_of(bot) as callers:
        await press(slack, bot, "U0VIC", request_id)  # a viewer
    assert "approving needs the approver role in acme" in told(slack, "U0VIC")[-1]
    assert sum(callers.values()) == 1, callers
