"""The two-person rule holds when people change: an org file reloaded mid-request is the one
that counts, at the quorum and at the claim.

Each case files a request through the real server, changes the org file as an operator would
(the same `reload_orgs` that SIGHUP calls), and clicks on.
"""

from __future__ import annotations

from bot.config.orgfile import parse_orgs
from bot.core.models import Status
from bot.sandbox.emulator import Emulator
from bot.sandbox.slack_standin import SlackStandin
from tests.support.bot import RunningBot
from tests.support.orgs import ORG_ENV, ORGS_YAML
from tests.support.slack_user import (
    OUTCOMES,
    ask,
    card,
    card_text,
    click,
    request_id_in,
    told,
)

DELETE = "delete sfv_app_abc123xyz456 decommission, CHG-1207"
UNLINK = "unlink +918000000001 sfv_app_abc123xyz456 fraud on this DID, INC-4411"


async def reload(bot: RunningBot, yaml: str) -> None:
    await bot.reload_orgs(parse_orgs(yaml, ORG_ENV))
    await bot.settle()


async def test_an_approval_by_someone_removed_since_does_not_count(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    await click(slack, bot, "U0BOB", request_id, "approve")
    await reload(bot, ORGS_YAML.replace("      U0BOB: approver\n", ""))
    assert "0 of 2" in card_text(card(slack, request_id))

    await click(slack, bot, "U0CAROL", request_id, "approve")
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert stored.approvers == ("U0CAROL",)
    assert not emulator.writes
    assert "1 of 2 (<@U0CAROL>)" in card_text(card(slack, request_id))

    await click(slack, bot, "U0DAVE", request_id, "approve")
    done = await bot.services.store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED
    (line,) = [m.text for m in slack.messages(OUTCOMES)]
    assert "approved by <@U0CAROL>, <@U0DAVE>" in line and "U0BOB" not in line
    kinds = [e.kind for e in await bot.services.store.events(request_id)]
    assert "approval_withdrawn" in kinds


async def test_an_approver_demoted_to_viewer_no_longer_counts(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    await click(slack, bot, "U0BOB", request_id, "approve")
    await reload(bot, ORGS_YAML.replace("U0BOB: approver", "U0BOB: viewer"))
    await click(slack, bot, "U0CAROL", request_id, "approve")
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert not emulator.writes


async def test_a_request_whose_requester_left_refuses_to_run(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await reload(bot, ORGS_YAML.replace("      U0ALICE: requester\n", ""))
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.CANCELLED
    assert stored.decision_note == "its requester is no longer a requester in acme"
    shown = card_text(card(slack, request_id))
    assert "cancelled by the bot" in shown and "no longer a requester" in shown
    assert card(slack, request_id).action_ids() in ([], ["sfvopi_undo"])
    assert not emulator.writes


async def test_a_click_finds_the_requester_gone_and_says_why(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    """Between sweeps, the click itself applies the rule."""
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    new = parse_orgs(ORGS_YAML.replace("U0ALICE: requester", "U0ALICE: viewer"), ORG_ENV)
    bot.services.orgs.swap(new)  # the file in force, with no sweep or reload work yet
    await click(slack, bot, "U0BOB", request_id, "approve")
    assert (
        "was cancelled: its requester is no longer a requester in acme" in told(slack, "U0BOB")[-1]
    )
    assert not emulator.writes


async def test_a_policy_raised_since_filing_needs_the_larger_quorum(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", UNLINK))
    await reload(bot, ORGS_YAML.replace("unlink: {approvals: 1}", "unlink: {approvals: 2}", 1))
    assert "0 of 2" in card_text(card(slack, request_id))
    await click(slack, bot, "U0BOB", request_id, "approve")
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert stored.approvals_needed == 2
    assert not emulator.writes
    await click(slack, bot, "U0CAROL", request_id, "approve")
    done = await bot.services.store.get(request_id)
    assert done is not None and done.status is Status.SUCCEEDED


async def test_a_policy_lowered_since_filing_keeps_what_it_was_filed_with(
    slack: SlackStandin, bot: RunningBot, emulator: Emulator
) -> None:
    request_id = request_id_in(await ask(slack, bot, "U0ALICE", DELETE))
    await reload(bot, ORGS_YAML.replace("delete: {approvals: 2}", "delete: {approvals: 1}", 1))
    await click(slack, bot, "U0BOB", request_id, "approve")
    stored = await bot.services.store.get(request_id)
    assert stored is not None and stored.status is Status.PENDING
    assert not emulator.writes
    assert "1 of 2 (<@U0BOB>)" in card_text(card(slack, request_id))
