"""See before you approve, over real sockets: a signed slash command, the card showing what
the emulator says the request touches, an approval bound to it, a number linked behind the
bot's back in between (the emulator's control, over HTTP), and the request asked again."""

from __future__ import annotations

import httpx

from bot.config.orgfile import parse_orgs
from bot.config.settings import Settings
from bot.core.models import Status
from bot.core.preview import DRIFTED
from bot.sandbox.emulator import ApiFault, Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot, start_bot
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack_user import (
    ask,
    card,
    card_text,
    click,
    dms,
    request_id_in,
    thread,
)

KEY = "test-key-acme-not-real"
APP = "sfv_app_three0000001"
THREE = ("+918100000001", "+918100000002", "+918100000003")
NEW = "+918100000009"
DELETE = f"delete {APP} decommissioned, CHG-12"


def _seed(emulator: Emulator) -> None:
    emulator.add_app(KEY, APP, THREE)
    emulator.add_numbers(KEY, [NEW])


async def _link_behind(emulator: Emulator, number: str) -> None:
    """Another SFVoPI user links a number to the app (the emulator's control, over HTTP)."""
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{emulator.control_url}/link",
            json={"org": "acme", "app_id": APP, "voip_number": number},
        )
    assert answer.status_code == 200, answer.text


async def test_the_card_lists_what_deleting_unlinks_and_an_approval_is_bound_to_it(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    _seed(emulator)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    shown = card_text(card(slack, request_id))
    assert "deleting it unlinks these 3 numbers" in shown
    assert all(n in shown for n in THREE)
    assert {c.method for c in emulator.calls} == {"GET"}

    await click(slack, bot, "U0BOB", request_id, "approve")
    await _link_behind(emulator, NEW)
    await click(slack, bot, "U0CAROL", request_id, "approve")

    assert emulator.has_app(KEY, APP)  # not run
    again = card(slack, request_id)
    shown = card_text(again)
    assert "Waiting for approval" in shown and "0 of 2" in shown
    assert "deleting it unlinks these 4 numbers" in shown and NEW in shown
    (line,) = [t for t in thread(slack, request_id) if "did not run" in t]
    assert f"{NEW} is now linked to {APP}" in line
    status = await bot.services.workflow.status(request_id, user="U0ALICE")
    assert status.status is Status.PENDING and status.approvals == ()
    kinds = [e.kind for e in await bot.services.workflow.events(request_id, user="U0ALICE")]
    assert kinds.count(DRIFTED) == 1

    await click(slack, bot, "U0BOB", request_id, "approve")
    assert "1 of 2" in card_text(card(slack, request_id))  # the old approval does not count
    await click(slack, bot, "U0CAROL", request_id, "approve")
    assert "Done" in card_text(card(slack, request_id))
    assert not emulator.has_app(KEY, APP)
    assert NEW in emulator.available(KEY)  # deleting the app freed every number it routed


async def test_rebind_on_change_false_runs_anyway(
    slack: SlackStandin, bot_settings: Settings, emulator: Emulator
) -> None:
    yaml = ORGS_YAML.replace(
        "delete: {approvals: 2}", "delete: {approvals: 2, rebind_on_change: false}", 1
    )
    running = await start_bot(bot_settings, parse_orgs(yaml, ORG_ENV), slack)
    try:
        _seed(emulator)
        request_id = request_id_in(await ask(slack, running, "U0ALICE", DELETE))
        await click(slack, running, "U0BOB", request_id, "approve")
        await _link_behind(emulator, NEW)
        await click(slack, running, "U0CAROL", request_id, "approve")
        assert "Done" in card_text(card(slack, request_id))
        assert not emulator.has_app(KEY, APP)
        assert not [t for t in thread(slack, request_id) if "did not run" in t]
    finally:
        await running.stop()


async def test_sfvopi_down_at_filing_the_card_says_so_and_filing_works(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    _seed(emulator)
    emulator.script(*[ApiFault.SERVER_ERROR] * 3, match=f"/apps/{APP}")
    reply = await ask(slack, bot, "U0ALICE", DELETE)
    assert "is waiting for 2 approvals" in reply
    shown = card_text(card(slack, request_id_in(reply)))
    assert "Could not read SFVoPI:" in shown
    assert emulator.has_app(KEY, APP)


async def test_a_number_not_linked_is_told_at_once_and_shown_on_the_card(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    reply = await ask(
        slack, bot, "U0ALICE", "unlink +918000000003 sfv_app_abc123xyz456 stray number, INC-5"
    )
    request_id = request_id_in(reply)
    await bot.settle()
    (notice,) = [t for t in dms(slack, "U0ALICE") if "already gone" in t]
    assert "+918000000003 is not linked to sfv_app_abc123xyz456: nothing to do" in notice
    shown = card_text(card(slack, request_id))
    assert "is not linked to `sfv_app_abc123xyz456`: nothing to do" in shown


async def test_a_long_list_is_summarised_on_the_card_and_listed_in_its_thread(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    many = tuple(f"+9182{i:08d}" for i in range(30))
    emulator.add_app(KEY, APP, many)
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    await bot.sweep_once()  # a thread post owed before the card was up is posted by the sweep
    await bot.settle()
    shown = card_text(card(slack, request_id))
    assert "deleting it unlinks these 30 numbers" in shown
    assert "… and 10 more (see the thread)" in shown
    listed = "\n".join(thread(slack, request_id))
    assert all(n in listed for n in many)
